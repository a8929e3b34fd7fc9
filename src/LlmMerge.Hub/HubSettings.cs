using System.Text;
using LlmMerge.Contracts.Hub;
using LlmMerge.Core;

namespace LlmMerge.Hub;

/// <summary>Where the Hub is, who we are to it and where its cache lives: huggingface_hub's environment variables.</summary>
public sealed record HubSettings
{
    /// <summary>The Hub's base address (<c>HF_ENDPOINT</c>, default https://huggingface.co).</summary>
    public Uri Endpoint { get; init; } = new("https://huggingface.co");

    /// <summary>The access token (<c>HF_TOKEN</c> or the token file under <c>HF_HOME</c>); never printed.</summary>
    public string? Token { get; init; }

    /// <summary>The hub cache folder (<c>HF_HUB_CACHE</c>, default <c>$HF_HOME/hub</c>).</summary>
    public string CacheDir { get; init; } = HubCacheLocation.CacheDir(_ => null);

    /// <summary>True when <c>HF_HUB_OFFLINE</c> is set: serve from the cache, make no request.</summary>
    public bool Offline { get; init; }

    /// <summary>How many files download at the same time.</summary>
    public int MaxParallelDownloads { get; init; } = 4;

    /// <summary>How many failed attempts in a row (5xx, dropped connection) a request gets before it gives up.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>The first retry's delay; each further retry doubles it.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a response body may stall before the connection is treated as dropped.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long to wait for another process (ours or huggingface_hub) that is downloading the same blob.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromHours(6);

    /// <summary>The least time between two progress reports of a fetch.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Reads the settings from the process environment as huggingface_hub does.</summary>
    public static HubSettings FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>Reads the settings from the given environment lookup as huggingface_hub does.</summary>
    public static HubSettings FromEnvironment(Func<string, string?> getEnv)
    {
        string hfHome = HubCacheLocation.HfHome(getEnv);
        string endpointText = (NonEmpty(getEnv("HF_ENDPOINT")) ?? "https://huggingface.co").TrimEnd('/');
        if (!Uri.TryCreate(endpointText, UriKind.Absolute, out Uri? endpoint) || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
        {
            throw new LlmMergeException($"HF_ENDPOINT '{endpointText}' is not an http(s) address: set it to e.g. https://huggingface.co or unset it.");
        }

        return new HubSettings
        {
            Endpoint = endpoint,
            Token = ReadToken(getEnv, hfHome),
            CacheDir = HubCacheLocation.CacheDir(getEnv),
            Offline = IsTrue(getEnv("HF_HUB_OFFLINE")),
        };
    }

    // Keeps the token out of logs: a record's generated ToString would print every property.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Endpoint = {Endpoint}, Token = {(Token is null ? "(none)" : "***")}, CacheDir = {CacheDir}, Offline = {Offline}");
        return true;
    }

    private static string? ReadToken(Func<string, string?> getEnv, string hfHome)
    {
        // huggingface_hub's order: HF_TOKEN, the legacy variable, then the token file written by `hf auth login`.
        string? token = NonEmpty(getEnv("HF_TOKEN")) ?? NonEmpty(getEnv("HUGGING_FACE_HUB_TOKEN"));
        if (token is not null)
        {
            return token.Trim();
        }

        string tokenPath = HubCacheLocation.ExpandHome(NonEmpty(getEnv("HF_TOKEN_PATH")) ?? Path.Combine(hfHome, "token"));
        try
        {
            return File.Exists(tokenPath) ? NonEmpty(File.ReadAllText(tokenPath).Trim()) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool IsTrue(string? value) =>
        value is not null && (value.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE");

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
