namespace LlmMerge.Contracts.Methods;

/// <summary>
/// Every merge method the engine registers, as the Build layer must know it to check a graph before anything runs.
/// The engine's registry (LlmMerge.Engine.Methods.MergeMethodRegistry) is tested against this table: a method or a
/// parameter on one side only fails that test.
/// </summary>
public static class MethodDescriptors
{
    private static ParameterDescriptor Weight => ParameterDescriptor.Number("weight", perModel: true, required: true);

    private static ParameterDescriptor Density => ParameterDescriptor.Number("density", 1.0, 0, 1, perModel: true);

    private static ParameterDescriptor T => ParameterDescriptor.Number("t", min: 0, max: 1, required: true);

    // mergekit's generalized task arithmetic: one set of parameters, defaults by variant.
    private static MethodDescriptor TaskArithmetic(string name, bool normalize, bool rescale, params ParameterDescriptor[] extra) => new(name, true,
    [
        ParameterDescriptor.Flag("int8_mask", false),
        ParameterDescriptor.Flag("normalize", normalize),
        ParameterDescriptor.Flag("rescale", rescale),
        ParameterDescriptor.Number("lambda", 1.0),
        Weight,
        Density,
        .. extra,
    ]);

    private static readonly ParameterDescriptor Gamma = ParameterDescriptor.Number("gamma", 0.01, 0, 1, perModel: true);

    private static readonly ParameterDescriptor Epsilon = ParameterDescriptor.Number("epsilon", 0.15, 0, 1, perModel: true);

    private static readonly MethodDescriptor[] Table =
    [
        new("linear", false, [ParameterDescriptor.Flag("normalize", true), Weight]),
        TaskArithmetic("task_arithmetic", normalize: false, rescale: false),
        TaskArithmetic("ties", normalize: true, rescale: false),
        TaskArithmetic("dare_ties", normalize: false, rescale: true),
        TaskArithmetic("dare_linear", normalize: false, rescale: true),
        TaskArithmetic("breadcrumbs", normalize: false, rescale: false, Gamma),
        TaskArithmetic("breadcrumbs_ties", normalize: false, rescale: false, Gamma),
        TaskArithmetic("della", normalize: true, rescale: true, Epsilon),
        TaskArithmetic("della_linear", normalize: false, rescale: true, Epsilon),
        new("slerp", true, [T]),
        new("nuslerp", false, [ParameterDescriptor.Flag("nuslerp_row_wise", false), ParameterDescriptor.Flag("nuslerp_flatten", true), Weight]),
        new("multislerp", false, [ParameterDescriptor.Flag("normalize_weights", true), ParameterDescriptor.Number("eps", 1e-8), Weight]),
        new("karcher", false, [ParameterDescriptor.Integer("max_iter", 10), ParameterDescriptor.Number("tol", 1e-5)]),
        new("arcee_fusion", true, []),
        new("passthrough", false, [ParameterDescriptor.Number("scale", perModel: true)]),
        new("model_stock", true, [ParameterDescriptor.Flag("filter_wise", false)]),
        new("sce", true, [ParameterDescriptor.Flag("int8_mask", false), ParameterDescriptor.Number("select_topk", 1.0, 0, 1)]),
        new("nearswap", true, [T]),
    ];

    private static readonly Dictionary<string, MethodDescriptor> ByName = Table.ToDictionary(m => m.Name, StringComparer.Ordinal);

    /// <summary>Every method, in the order above.</summary>
    public static IReadOnlyList<MethodDescriptor> All => Table;

    /// <summary>Method names, sorted, for messages.</summary>
    public static IReadOnlyList<string> Names { get; } = Table.Select(m => m.Name).Order(StringComparer.Ordinal).ToList();

    public static MethodDescriptor? Find(string name) => ByName.GetValueOrDefault(name);
}
