using LlmMerge.Eval.Tasks;
using LlmMerge.Search.Genome;

namespace LlmMerge.Search.Tasks;

/// <summary>A genome task, loaded: the file it resolved to, the rows scored (after the config's limit) and their fingerprint.</summary>
public sealed record SearchTask(TaskSpec Spec, string File, EvalTask Task, string Fingerprint);
