namespace LlmMerge.Build;

/// <summary>
/// The codes of the merge graph's build errors. They start at LLM0100 because build/TorchSharpCompat.targets
/// already uses LLM0001 for its own warning.
/// </summary>
internal static class ErrorCodes
{
    public const string UnknownMethod = "LLM0101";
    public const string Cycle = "LLM0102";
    public const string MissingExpert = "LLM0103";
    public const string MissingFolder = "LLM0104";
    public const string BadParameter = "LLM0105";
    public const string BadItem = "LLM0106";
    public const string BadConfig = "LLM0107";
    public const string DuplicateName = "LLM0108";
    public const string MissingTask = "LLM0109";
    public const string MergeFailed = "LLM0110";
    public const string FetchFailed = "LLM0111";
    public const string EvalFailed = "LLM0112";
    public const string LockMissing = "LLM0113";
}
