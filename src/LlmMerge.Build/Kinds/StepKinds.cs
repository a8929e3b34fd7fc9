namespace LlmMerge.Build.Kinds;

/// <summary>The step kinds a graph knows, by item type: the one place a new kind is registered.</summary>
internal static class StepKinds
{
    private static readonly IStepKind[] All =
    [
        new MergeStepKind(),
        new MoeStepKind(),
        new RouteStepKind(),
        new EvolveStepKind(),
    ];

    public static IReadOnlyList<IStepKind> Kinds => All;

    public static IStepKind? Find(string itemType) => All.FirstOrDefault(k => k.ItemType == itemType);

    /// <summary>"MergeStep, MoeStep, ..." for messages.</summary>
    public static string ItemTypes => string.Join(", ", All.Select(k => k.ItemType));
}
