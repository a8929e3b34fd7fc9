using LlmMerge.Modeling.Sources;

namespace LlmMerge.Engine.Execution;

/// <summary>What a sink may need of the merge beside its tensors: the plan, the models it read and the run's options.</summary>
public sealed record MergeContext(MergePlan Plan, ModelResolver Models, MergeOptions Options, string? ChatTemplate, Action<string>? Warn);
