using LlmMerge.Core.Recipes;

namespace LlmMerge.Engine.Moe;

/// <summary>
/// One expert of a mixture (mergekit-moe's <c>Expert</c>, mergekit/moe/config.py at a6e40288): the model whose MLPs
/// become the expert, the prompts its router vector is made of, and the optional noise and residual scale.
/// </summary>
/// <param name="Index">Position in <c>experts</c> (or <c>shared_experts</c>), for messages.</param>
/// <param name="Line">The recipe line the entry starts on.</param>
/// <param name="SourceModel">The dense model whose MLPs become this expert (a folder, BASE+LORA, or an adapter folder).</param>
/// <param name="PositivePrompts">Prompts of what the expert should receive; its router row is made of their hidden states.</param>
/// <param name="NegativePrompts">Prompts of what it should not receive; subtracted.</param>
/// <param name="NoiseScale">Gaussian noise of this standard deviation added to the expert's weights.</param>
/// <param name="ResidualScale">Factor on the expert's down_proj (its contribution to the residual stream).</param>
public sealed record MoeExpert(
    int Index,
    int Line,
    ModelReference SourceModel,
    IReadOnlyList<string>? PositivePrompts,
    IReadOnlyList<string>? NegativePrompts,
    double? NoiseScale,
    double? ResidualScale)
{
    /// <summary>How messages name it: "expert 2 (models/b)" or "shared expert 0 (models/s)".</summary>
    public string Describe(bool shared) => $"{(shared ? "shared expert" : "expert")} {Index} ({SourceModel})";
}

/// <summary>A mergekit-moe configuration (<c>MoEMergeConfig</c>) as its YAML states it, defaults filled as mergekit's.</summary>
public sealed record MoeRecipe
{
    /// <summary>The gate modes mergekit-moe's router.py knows.</summary>
    public static IReadOnlyList<string> GateModes => Contracts.Moe.MoeRecipeVocabulary.GateModes;

    public required ModelReference BaseModel { get; init; }

    public required IReadOnlyList<MoeExpert> Experts { get; init; }

    public string GateMode { get; init; } = "hidden";

    /// <summary>The output dtype; without it the base's torch_dtype (mergekit's select_dtype).</summary>
    public string? DType { get; init; }

    public int ExpertsPerToken { get; init; } = 2;

    public IReadOnlyList<MoeExpert>? SharedExperts { get; init; }

    /// <summary><c>architecture</c>: a prefix of an output architecture's name (mixtral, qwen), or null to infer it.</summary>
    public string? Architecture { get; init; }

    /// <summary>The YAML as written, for the model card.</summary>
    public string SourceText { get; init; } = "";

    /// <summary>The file it was read from, for messages.</summary>
    public string FileName { get; init; } = "<recipe>";

    /// <summary>Every model the recipe reads: the base, the experts, the shared experts.</summary>
    public IEnumerable<ModelReference> ReferencedModels() =>
        new[] { BaseModel }.Concat(Experts.Select(e => e.SourceModel)).Concat((SharedExperts ?? []).Select(e => e.SourceModel)).Distinct();
}
