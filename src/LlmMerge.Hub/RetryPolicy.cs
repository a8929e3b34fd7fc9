using System.Net;

namespace LlmMerge.Hub;

/// <summary>Which failures are worth another attempt, and how long to wait before it: bounded exponential backoff.</summary>
internal sealed class RetryPolicy(HubSettings settings)
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    /// <summary>How many failed attempts in a row a request gets.</summary>
    public int MaxAttempts { get; } = Math.Max(1, settings.MaxAttempts);

    /// <summary>True for answers that say "try again": server errors, throttling, a request timeout.</summary>
    public static bool IsTransient(HttpStatusCode status) =>
        (int)status >= 500 || status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout;

    /// <summary>True for a failure of the connection rather than of the request: refused, reset, cut mid-body, stalled.</summary>
    public static bool IsTransient(Exception e) =>
        e is HttpRequestException { StatusCode: null } or IOException or TimeoutException;

    /// <summary>Waits before attempt <paramref name="failedAttempts"/> + 1: base, 2 x base, 4 x base ..., capped.</summary>
    public Task DelayAsync(int failedAttempts, CancellationToken cancellationToken)
    {
        double factor = Math.Pow(2, Math.Min(failedAttempts - 1, 16));
        TimeSpan delay = TimeSpan.FromTicks((long)Math.Min(settings.RetryBaseDelay.Ticks * factor, MaxDelay.Ticks));
        return Task.Delay(delay, cancellationToken);
    }
}
