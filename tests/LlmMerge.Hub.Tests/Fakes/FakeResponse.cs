namespace LlmMerge.Hub.Tests.Fakes;

/// <summary>What the fake server answers; <see cref="CutAfter"/> closes the connection mid-body.</summary>
public sealed record FakeResponse(int Status, byte[] Body)
{
    /// <summary>Headers to send besides Content-Length and Connection.</summary>
    public Dictionary<string, string> Headers { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>When set, only this many body bytes are written before the connection is closed (Content-Length still announces all).</summary>
    public int? CutAfter { get; init; }

    /// <summary>A response with a status, an empty body and the given headers.</summary>
    public static FakeResponse Empty(int status, params (string Name, string Value)[] headers)
    {
        var response = new FakeResponse(status, []);
        foreach ((string name, string value) in headers)
        {
            response.Headers[name] = value;
        }

        return response;
    }
}
