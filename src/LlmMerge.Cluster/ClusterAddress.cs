using System.Net;
using LlmMerge.Core;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using StackExchange.Redis;

namespace LlmMerge.Cluster;

/// <summary>
/// Where the cluster's membership lives, as <c>--cluster</c> and <c>-p:LlmMergeCluster</c> spell it:
/// <c>localhost</c> (or <c>localhost:PORT</c>): Orleans' development clustering on one machine, no server; the first
/// worker is the primary (silo port PORT, default 11111, gateway PORT+100) and holds the membership table, the others
/// take the next free ports (up to <see cref="LocalhostWorkers"/>) and join it; if the primary stops, the cluster does.
/// <c>redis://HOST:PORT[/DB]</c>: Orleans' Redis membership table; any worker may die and the others go on.
/// </summary>
public sealed record ClusterAddress(string Text, string? RedisHost, int RedisPort, int RedisDatabase, int LocalhostBasePort)
{
    public const int LocalhostWorkers = 16;
    public const int DefaultLocalhostPort = 11111;
    public const int GatewayOffset = 100;

    public bool IsRedis => RedisHost is not null;

    /// <summary>Silos on loopback membership advertise 127.0.0.1; elsewhere a worker needs an address the others can reach.</summary>
    public bool IsLoopback => !IsRedis || RedisHost is "localhost" || (IPAddress.TryParse(RedisHost, out var ip) && IPAddress.IsLoopback(ip));

    public static ClusterAddress Parse(string text)
    {
        string t = text.Trim();
        if (t == "localhost")
            return new ClusterAddress(t, null, 0, 0, DefaultLocalhostPort);
        if (t.StartsWith("localhost:", StringComparison.Ordinal) && int.TryParse(t["localhost:".Length..], out int basePort) && basePort is > 0 and < 65536 - 2 * GatewayOffset)
            return new ClusterAddress(t, null, 0, 0, basePort);
        if (t.StartsWith("redis://", StringComparison.Ordinal))
        {
            string rest = t["redis://".Length..];
            int db = 0;
            int slash = rest.IndexOf('/');
            if (slash >= 0)
            {
                if (!int.TryParse(rest[(slash + 1)..], out db) || db < 0)
                    throw new LlmMergeException($"--cluster {text}: the Redis database after '/' must be a number");
                rest = rest[..slash];
            }
            int colon = rest.LastIndexOf(':');
            string host = colon >= 0 ? rest[..colon] : rest;
            int port = 6379;
            if (host.Length == 0 || (colon >= 0 && !(int.TryParse(rest[(colon + 1)..], out port) && port is > 0 and < 65536)))
                throw new LlmMergeException($"--cluster {text}: expected redis://HOST:PORT");
            return new ClusterAddress(t, host, port, db, 0);
        }
        throw new LlmMergeException($"--cluster {text}: expected localhost, localhost:PORT or redis://HOST:PORT");
    }

    internal ConfigurationOptions RedisOptions()
    {
        var options = new ConfigurationOptions { DefaultDatabase = RedisDatabase, AbortOnConnectFail = false, ConnectTimeout = 5000 };
        options.EndPoints.Add(RedisHost!, RedisPort);
        return options;
    }

    /// <summary>The gateways a client of localhost clustering tries (every worker's, whichever are up).</summary>
    internal IPEndPoint[] LocalhostGateways() =>
        Enumerable.Range(0, LocalhostWorkers).Select(k => new IPEndPoint(IPAddress.Loopback, LocalhostBasePort + GatewayOffset + k)).ToArray();

    public override string ToString() => Text;
}
