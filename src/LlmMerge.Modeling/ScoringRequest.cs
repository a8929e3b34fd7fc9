namespace LlmMerge.Modeling;

/// <summary>One context and the continuations scored against it (a multiple-choice row's choices, typically).</summary>
/// <param name="Context">Token ids, at least one.</param>
/// <param name="Continuations">Token ids of each continuation, at least one each.</param>
public sealed record ScoringRequest(IReadOnlyList<int> Context, IReadOnlyList<IReadOnlyList<int>> Continuations);
