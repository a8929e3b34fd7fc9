using System.CommandLine;
using LlmMerge.Cluster;
using LlmMerge.Cluster.Worker;

namespace LlmMerge.Cli.Commands;

/// <summary><c>llmmerge worker --cluster localhost|redis://HOST:PORT</c>: an Orleans silo that runs the cluster's jobs.</summary>
public static class WorkerCommand
{
    public static Command Create()
    {
        var cluster = new Option<string>("--cluster") { Description = "membership: localhost[:PORT] (one machine, no server) or redis://HOST:PORT[/DB]", DefaultValueFactory = _ => "localhost" };
        var slots = new Option<int>("--slots") { Description = "jobs this worker runs at once (default 1)", DefaultValueFactory = _ => 1 };
        var device = new Option<string?>("--device") { Description = "device for jobs that take one and name none: cpu, cuda, cuda:N" };
        var name = new Option<string?>("--name") { Description = "how jobs and logs name this worker (default HOST:PID)" };
        var advertise = new Option<string?>("--advertise") { Description = "IP address other workers and clients reach this one at (default: 127.0.0.1 on loopback membership, else the host's first IPv4)" };
        var siloPort = new Option<int>("--silo-port") { Description = "silo port (default: a free one; localhost clustering: from its base port)" };
        var gatewayPort = new Option<int>("--gateway-port") { Description = "gateway port clients connect to (default: a free one)" };
        var clusterId = new Option<string>("--cluster-id") { Description = "Orleans cluster id; clients must name the same (default llmmerge)", DefaultValueFactory = _ => "llmmerge" };
        var probe = new Option<double>("--probe-timeout") { Description = "seconds between liveness probes; a silo missing --missed-probes of them is declared dead (default 1)", DefaultValueFactory = _ => 1.0 };
        var missed = new Option<int>("--missed-probes") { Description = "missed probes before a silo is suspected (default 2)", DefaultValueFactory = _ => 2 };
        var votes = new Option<int>("--death-votes") { Description = "silos that must suspect one to declare it dead (default 1)", DefaultValueFactory = _ => 1 };

        var cmd = new Command("worker", "run jobs for a cluster (merges, evaluations, search candidates) as an Orleans silo, until stopped")
        {
            cluster, slots, device, name, advertise, siloPort, gatewayPort, clusterId, probe, missed, votes,
        };
        cmd.SetAction(async (parse, cancel) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            WorkerSettings? settings = null;
            int parsed = CliApp.Guard(stderr, () =>
            {
                if (parse.GetValue(slots) < 1)
                    throw new Core.LlmMergeException($"--slots must be at least 1 (got {parse.GetValue(slots)})");
                settings = new WorkerSettings
                {
                    Cluster = ClusterAddress.Parse(parse.GetValue(cluster)!),
                    Slots = parse.GetValue(slots),
                    Device = parse.GetValue(device),
                    Name = parse.GetValue(name) ?? $"{Environment.MachineName}:{Environment.ProcessId}",
                    AdvertiseAddress = parse.GetValue(advertise),
                    SiloPort = parse.GetValue(siloPort),
                    GatewayPort = parse.GetValue(gatewayPort),
                    ClusterId = parse.GetValue(clusterId)!,
                    ProbeTimeout = TimeSpan.FromSeconds(parse.GetValue(probe)),
                    MissedProbes = parse.GetValue(missed),
                    DeathVotes = parse.GetValue(votes),
                };
                return 0;
            });
            if (parsed != 0 || settings is null)
                return parsed;
            return await WorkerHost.Run(settings, parse.InvocationConfiguration.Output, stderr, cancel);
        });
        return cmd;
    }
}
