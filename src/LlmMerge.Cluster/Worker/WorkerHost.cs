using System.Net;
using System.Net.Sockets;
using LlmMerge.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Runtime;

namespace LlmMerge.Cluster.Worker;

/// <summary>
/// <c>llmmerge worker</c>: an Orleans silo that hosts job grains, the queue, and <see cref="WorkerSettings.Slots"/>
/// slots that run jobs. It runs until stopped (SIGINT/SIGTERM leave the cluster cleanly and hand running jobs back;
/// SIGKILL is what membership's failure detection is for).
/// </summary>
public static class WorkerHost
{
    public static async Task<int> Run(WorkerSettings settings, TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        var log = new WorkerLog(stdout);
        var (siloPort, gatewayPort, primary) = Ports(settings);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new WarningLogger(stderr));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = "llmmerge";
            });
            IPAddress advertise = settings.AdvertiseAddress is { } a ? IPAddress.Parse(a)
                : settings.Cluster.IsLoopback ? IPAddress.Loopback : Dns.GetHostAddresses(Dns.GetHostName()).First(ip => ip.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(ip));
            if (settings.Cluster.IsRedis)
            {
                silo.UseRedisClustering(o => o.ConfigurationOptions = settings.Cluster.RedisOptions());
                silo.ConfigureEndpoints(advertise, siloPort, gatewayPort, listenOnAnyHostAddress: !settings.Cluster.IsLoopback);
            }
            else
            {
                silo.UseLocalhostClustering(siloPort, gatewayPort, primary, "llmmerge", settings.ClusterId);
            }
            silo.Configure<SiloOptions>(o => o.SiloName = settings.Name);
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = settings.ProbeTimeout;
                o.NumMissedProbesLimit = settings.MissedProbes;
                o.NumVotesForDeathDeclaration = settings.DeathVotes;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
                o.DeathVoteExpirationTimeout = TimeSpan.FromSeconds(30);
                o.DefunctSiloExpiration = TimeSpan.FromHours(1);
            });
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(30));
        });
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(log);
        builder.Services.AddHostedService<JobSlots>();
        using var host = builder.Build();
        try
        {
            await host.StartAsync(cancel);
        }
        catch (Exception e) when (e is OrleansException or SocketException or StackExchange.Redis.RedisException or TimeoutException or OperationCanceledException)
        {
            stderr.WriteLine($"llmmerge: error: worker could not join cluster {settings.Cluster}: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
        var me = host.Services.GetRequiredService<ILocalSiloDetails>();
        log.Line($"{settings.Name} joined cluster {settings.Cluster} as silo {me.SiloAddress.ToParsableString()} (gateway {me.GatewayAddress?.Endpoint}); "
            + $"{settings.Slots} slot(s), tool {ToolIdentity.Current}");
        try
        {
            await Task.Delay(Timeout.Infinite, cancel);
        }
        catch (OperationCanceledException)
        {
        }
        log.Line($"{settings.Name} leaving the cluster");
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await host.StopAsync(grace.Token);
        return 0;
    }

    /// <summary>Ports given, else free ones; with localhost clustering the first free pair from the base, the base's being the primary.</summary>
    private static (int Silo, int Gateway, IPEndPoint? Primary) Ports(WorkerSettings s)
    {
        if (s.Cluster.IsRedis)
            return (s.SiloPort > 0 ? s.SiloPort : FreePort(), s.GatewayPort > 0 ? s.GatewayPort : FreePort(), null);
        int b = s.Cluster.LocalhostBasePort;
        var primary = new IPEndPoint(IPAddress.Loopback, b);
        for (int k = 0; k < ClusterAddress.LocalhostWorkers; k++)
        {
            if (IsFree(b + k) && IsFree(b + ClusterAddress.GatewayOffset + k))
                return (b + k, b + ClusterAddress.GatewayOffset + k, k == 0 ? null : primary);
        }
        throw new LlmMergeException($"--cluster {s.Cluster}: ports {b}-{b + ClusterAddress.LocalhostWorkers - 1} are all taken; at most {ClusterAddress.LocalhostWorkers} localhost workers");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
