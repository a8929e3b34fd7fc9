namespace LlmMerge.Hub.Tests.Fakes;

/// <summary>A request as the fake server received it.</summary>
/// <param name="Method">GET or HEAD.</param>
/// <param name="Path">The decoded path, e.g. <c>/org/name/resolve/abc/config.json</c>.</param>
/// <param name="RawPath">The path as sent, still percent-encoded.</param>
/// <param name="Host">The Host header (tells the Hub's <c>127.0.0.1</c> from the CDN's <c>localhost</c>).</param>
/// <param name="Headers">Every header, by case-insensitive name.</param>
public sealed record RecordedRequest(string Method, string Path, string RawPath, string Host, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>A header's value, or null.</summary>
    public string? Header(string name) => Headers.TryGetValue(name, out string? value) ? value : null;

    /// <summary>True when the request went to the CDN host (the redirect target), not the Hub.</summary>
    public bool IsCdn => Host.StartsWith("localhost:", StringComparison.Ordinal);

    /// <summary>Bytes of body the server actually sent in answer (after any cut).</summary>
    public long BodyBytesSent { get; set; }

    /// <summary>The status the server answered.</summary>
    public int Status { get; set; }
}
