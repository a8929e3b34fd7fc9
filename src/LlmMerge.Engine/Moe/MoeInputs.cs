using LlmMerge.Core;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Sources;

namespace LlmMerge.Engine.Moe;

/// <summary>
/// A recipe's models, opened and checked before anything is computed or written: the base (attention, norms,
/// embeddings, head), each expert and shared expert (MLPs), their model types and the base's decoder shape.
/// </summary>
internal sealed class MoeInputs
{
    private MoeInputs(MoeRecipe recipe, IModelSource baseModel, CausalLmConfig baseConfig, IReadOnlyList<IModelSource> experts, IReadOnlyList<IModelSource> shared)
    {
        Recipe = recipe;
        Base = baseModel;
        BaseConfig = baseConfig;
        Experts = experts;
        Shared = shared;
    }

    public MoeRecipe Recipe { get; }

    public IModelSource Base { get; }

    /// <summary>The base's shape as the forward pass reads it (transformers' defaults filled in).</summary>
    public CausalLmConfig BaseConfig { get; }

    public IReadOnlyList<IModelSource> Experts { get; }

    public IReadOnlyList<IModelSource> Shared { get; }

    public IReadOnlyList<MoeExpert> SharedDefinitions => Recipe.SharedExperts ?? [];

    public string BaseType => ModelType(Base);

    public static string ModelType(IModelSource source) => source.Config?.ModelType ?? "(no model_type)";

    public int Layers => BaseConfig.NumHiddenLayers;

    public static MoeInputs Open(MoeRecipe recipe, ModelResolver models)
    {
        string file = recipe.FileName;
        var baseSource = models.Source(recipe.BaseModel);
        var config = baseSource.Config ?? throw new LlmMergeException($"{file}: base_model '{recipe.BaseModel}' has no config.json");
        var baseConfig = CausalLmArchitectures.ReadConfig(config);
        var experts = recipe.Experts.Select(e => models.Source(e.SourceModel)).ToList();
        var shared = (recipe.SharedExperts ?? []).Select(e => models.Source(e.SourceModel)).ToList();
        return new MoeInputs(recipe, baseSource, baseConfig, experts, shared);
    }

    /// <summary>
    /// Every expert's and shared expert's MLP tensors exist with the base's shapes (the output has one
    /// intermediate_size, the base's, as mergekit writes it), and no MLP has biases (neither output has them).
    /// </summary>
    public void CheckShapes()
    {
        string file = Recipe.FileName;
        foreach (var (def, source, shared) in AllExperts())
        {
            var config = source.Config;
            int? layers = config?.NumHiddenLayers;
            if (layers != Layers)
                throw new LlmMergeException($"{file}: {def.Describe(shared)} has num_hidden_layers {layers?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(none)"}, the base has {Layers}; experts must have the base's layers");
            for (int i = 0; i < Layers; i++)
            {
                foreach (string proj in (string[])["gate_proj", "up_proj", "down_proj"])
                {
                    string name = $"model.layers.{i}.mlp.{proj}.weight";
                    if (!source.Contains(name))
                        throw new LlmMergeException($"{file}: {def.Describe(shared)} has no tensor '{name}'; an expert must be a dense Llama/Mistral/Qwen2 model with the base's layers");
                    var info = source.GetInfo(name);
                    long[] expected = proj == "down_proj" ? [BaseConfig.HiddenSize, BaseConfig.IntermediateSize] : [BaseConfig.IntermediateSize, BaseConfig.HiddenSize];
                    if (!info.Shape.AsSpan().SequenceEqual(expected))
                        throw new LlmMergeException($"{file}: {def.Describe(shared)}: tensor '{name}' has shape {info.ShapeText}, the base's config implies [{string.Join(", ", expected)}]; experts must have the base's hidden_size and intermediate_size");
                    if (info.DType is not (SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F64))
                        throw new LlmMergeException($"{file}: {def.Describe(shared)}: tensor '{name}' is {info.DType}; expert weights must be floating point (quantised checkpoints are not supported)");
                    string bias = $"model.layers.{i}.mlp.{proj}.bias";
                    if (source.Contains(bias))
                        throw new LlmMergeException($"{file}: {def.Describe(shared)} has '{bias}'; Mixtral and Qwen2-MoE experts have no MLP biases, so it would be lost");
                }
            }
        }
    }

    /// <summary>Experts then shared experts, each with its definition, source and whether it is shared.</summary>
    public IEnumerable<(MoeExpert Definition, IModelSource Source, bool Shared)> AllExperts() =>
        Recipe.Experts.Select((e, i) => (e, Experts[i], false)).Concat(SharedDefinitions.Select((e, i) => (e, Shared[i], true)));

    /// <summary>A base tensor that must be there; its absence names the base and the tensor.</summary>
    public string RequireBase(string name) =>
        Base.Contains(name) ? name : throw new LlmMergeException($"{Recipe.FileName}: base_model '{Recipe.BaseModel}' has no tensor '{name}'");
}
