namespace LlmMerge.Eval.Tasks;

/// <summary>
/// One record of a data file: field name to value (string, long, double, bool, null, a list of values, or a
/// nested record), and where it comes from (<c>file:line</c> or <c>file:row N</c>) for messages.
/// </summary>
public sealed record TaskDoc(IReadOnlyDictionary<string, object?> Fields, string Source);
