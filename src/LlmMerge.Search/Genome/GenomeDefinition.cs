using LlmMerge.Core.Recipes;

namespace LlmMerge.Search.Genome;

/// <summary>
/// The <c>genome</c> section of a mergekit-evolve config (mergekit/evo/genome.py ModelGenomeDefinition at a6e40288):
/// the models, the method, and how the parameter space is cut into layer groups and tensor filters.
/// </summary>
public sealed record GenomeDefinition
{
    public required IReadOnlyList<ModelReference> Models { get; init; }

    public required string MergeMethod { get; init; }

    public ModelReference? BaseModel { get; init; }

    public string? TokenizerSource { get; init; }

    /// <summary>Layers per group with their own parameters; 0 (mergekit's default) is one group for all layers.</summary>
    public int LayerGranularity { get; init; }

    /// <summary>The recipe's <c>normalize</c>; null is true for ties, dare_ties and linear and false otherwise, as mergekit.</summary>
    public bool? Normalize { get; init; }

    /// <summary>Without it, weights (and t) are taken as absolute values.</summary>
    public bool AllowNegativeWeights { get; init; }

    /// <summary>Tensor-name filters, each with its own parameters, plus one set for everything else.</summary>
    public IReadOnlyList<string> Filters { get; init; } = [];

    /// <summary>Parameters as gradients over the layers (one anchor per group) instead of constant per group.</summary>
    public bool Smooth { get; init; }
}
