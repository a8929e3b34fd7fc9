using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace LlmMerge.Cluster.Client;

/// <summary>
/// An Orleans client of the cluster. It connects through any worker's gateway; while there is none (no worker has
/// joined yet, or the Redis membership lists none alive) it waits, says so once on standard error, and tries again
/// until <c>wait</c> runs out. Orleans' own logging is off: a client's only lines are the submitter's.
/// </summary>
public sealed class ClusterConnection : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterConnection(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    public static async Task<ClusterConnection> Connect(ClusterAddress address, TextWriter stderr, TimeSpan wait, string clusterId = "llmmerge", CancellationToken cancel = default)
    {
        var started = DateTime.UtcNow;
        bool said = false;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = "llmmerge";
            });
            if (address.IsRedis)
                client.UseRedisClustering(o => o.ConfigurationOptions = address.RedisOptions());
            else
                client.UseStaticClustering(address.LocalhostGateways());
            // Polls are short; one routed to a silo that just died fails soon and is simply asked again.
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(2));
            client.UseConnectionRetryFilter(async (e, token) =>
            {
                if (DateTime.UtcNow - started > wait || token.IsCancellationRequested)
                    return false;
                if (!said)
                {
                    stderr.WriteLine($"llmmerge submit: no worker in cluster {address} yet; waiting for one (up to {wait.TotalMinutes:F0} min)");
                    stderr.Flush();
                    said = true;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(500), token);
                return true;
            });
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancel);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            host.Dispose();
            throw new LlmMerge.Core.LlmMergeException($"cluster {address}: no worker answered within {wait.TotalSeconds:F0} s ({e.Message.ReplaceLineEndings(" ")}); start one with `llmmerge worker --cluster {address}`");
        }
        if (said)
        {
            stderr.WriteLine($"llmmerge submit: a worker joined cluster {address} after {(DateTime.UtcNow - started).TotalSeconds:F1} s");
            stderr.Flush();
        }
        return new ClusterConnection(host);
    }

    public async ValueTask DisposeAsync()
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _host.StopAsync(grace.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or OrleansException)
        {
        }
        _host.Dispose();
    }
}
