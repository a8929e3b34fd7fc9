using LlmMerge.Core;

namespace LlmMerge.Hub;

/// <summary>The Hub could not be reached, or kept failing, after every retry: a network problem rather than a refusal.</summary>
public sealed class HubUnavailableException : LlmMergeException
{
    /// <summary>Creates the error with a message that names the request and what to do.</summary>
    public HubUnavailableException(string message) : base(message) { }

    /// <summary>Creates the error with the last failure as its inner exception.</summary>
    public HubUnavailableException(string message, Exception inner) : base(message, inner) { }
}
