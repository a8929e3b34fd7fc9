namespace LlmMerge.Zoo;

/// <summary>A training text; when <paramref name="Prompt"/> is given, only the tokens after it (the answer) are trained on.</summary>
public sealed record ZooDocument(string Text, string? Prompt);
