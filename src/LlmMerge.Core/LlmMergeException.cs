namespace LlmMerge.Core;

/// <summary>A failure caused by the user's input: its message names the file, tensor or parameter and what to do.</summary>
public class LlmMergeException : Exception
{
    public LlmMergeException(string message) : base(message) { }

    public LlmMergeException(string message, Exception inner) : base(message, inner) { }
}
