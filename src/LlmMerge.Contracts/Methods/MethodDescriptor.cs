namespace LlmMerge.Contracts.Methods;

/// <summary>A merge method as a recipe or a graph sees it: its <c>merge_method</c> name, whether it needs a base, and its parameters.</summary>
public sealed record MethodDescriptor(string Name, bool NeedsBase, IReadOnlyList<ParameterDescriptor> Parameters)
{
    /// <summary>Parameters read once per tensor.</summary>
    public IEnumerable<ParameterDescriptor> Global => Parameters.Where(p => !p.PerModel);

    /// <summary>Parameters read per model (they may also be given once for all models).</summary>
    public IEnumerable<ParameterDescriptor> PerModel => Parameters.Where(p => p.PerModel);

    public ParameterDescriptor? Find(string parameter) => Parameters.FirstOrDefault(p => p.Name == parameter);
}
