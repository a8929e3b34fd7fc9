using LlmMerge.Core;

namespace LlmMerge.Engine.Methods;

/// <summary>Maps the names recipes use in <c>merge_method</c> to methods; the executor knows nothing else of them.</summary>
public static class MergeMethodRegistry
{
    private static readonly Dictionary<string, IMergeMethod> Methods = new IMergeMethod[]
    {
        new LinearMerge(),
        new SlerpMerge(),
        new TaskArithmeticMerge(),
        new TiesMerge(),
        new DareTiesMerge(),
        new DareLinearMerge(),
        new BreadcrumbsMerge(),
        new BreadcrumbsTiesMerge(),
        new NuslerpMerge(),
        new MultislerpMerge(),
        new KarcherMerge(),
        new ArceeFusionMerge(),
        new PassthroughMerge(),
        new DellaMerge(),
        new DellaLinearMerge(),
        new ModelStockMerge(),
        new SceMerge(),
        new NearswapMerge(),
        new TaskSingularVectorMerge(),
        new IsoCMerge(),
        new IsoCtsMerge(),
        new GeometricMedianMerge(),
        new RamMerge(),
        new RamPlusTlMerge(),
        new RegMeanMerge(),
        new RegMeanPlusPlusMerge(),
        new FisherMerge(),
    }.ToDictionary(m => m.Name, StringComparer.Ordinal);

    public static IReadOnlyCollection<string> Names => Methods.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>The method of that name; an unknown name is an error that lists the known ones.</summary>
    public static IMergeMethod Get(string name) =>
        Methods.TryGetValue(name, out var m) ? m
            : throw new LlmMergeException($"unknown merge_method '{name}'; known methods: {string.Join(", ", Names)}");
}
