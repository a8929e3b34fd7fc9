namespace LlmMerge.Eval.Chat;

/// <summary>One turn of a conversation as chat templates see it: <c>{"role": ..., "content": ...}</c>.</summary>
/// <param name="Role">system, user or assistant.</param>
/// <param name="Content">The turn's text.</param>
public sealed record ChatMessage(string Role, string Content);
