namespace LlmMerge.Core.Recipes;

/// <summary>
/// A recipe's <c>calibration:</c> block: the rows data-aware methods (regmean, regmean_plusplus, fisher) run through
/// the models before merging. <c>tasks</c> is either one list for every model or a mapping from model to its own
/// list (FusionBench computes each model's statistics on that model's own task).
/// </summary>
public sealed record CalibrationSettings
{
    /// <summary>mergekit-style defaults: FusionBench's <c>num_regmean_examples</c> and <c>num_fisher_examples</c> are 256.</summary>
    public const int DefaultRows = 256;

    /// <summary>Task files (competition CSV or task YAML) every model reads; empty when <see cref="PerModelTasks"/> is used.</summary>
    public IReadOnlyList<string> Tasks { get; init; } = [];

    /// <summary>Task files per model, when the block maps models to their tasks.</summary>
    public IReadOnlyDictionary<ModelReference, IReadOnlyList<string>> PerModelTasks { get; init; } = new Dictionary<ModelReference, IReadOnlyList<string>>();

    /// <summary>Rows drawn from each task file (all of them where it has fewer).</summary>
    public int Rows { get; init; } = DefaultRows;

    /// <summary>Seed of the draw.</summary>
    public ulong Seed { get; init; }

    /// <summary>Rows whose gradients are summed before squaring (fisher only; FusionBench squares per batch of its data loader).</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>The task files <paramref name="model"/> reads.</summary>
    public IReadOnlyList<string> TasksOf(ModelReference model) =>
        PerModelTasks.Count == 0 ? Tasks
        : PerModelTasks.TryGetValue(model, out var own) ? own
        : throw new LlmMergeException($"calibration.tasks names no tasks for model '{model}'; give it an entry (or one list for every model)");
}
