namespace LlmMerge.Core.Recipes;

/// <summary>A model named by a recipe: a path or Hub id, optionally with a LoRA adapter (mergekit's <c>BASE+ADAPTER</c>).</summary>
public sealed record ModelReference(string Model, string? Lora = null)
{
    public static ModelReference Parse(string text)
    {
        int plus = text.IndexOf('+', StringComparison.Ordinal);
        return plus > 0 ? new ModelReference(text[..plus], text[(plus + 1)..]) : new ModelReference(text);
    }

    public override string ToString() => Lora is null ? Model : $"{Model}+{Lora}";
}

/// <summary>One source of an output slice: a model's layers [Start, End).</summary>
public sealed record InputSlice(ModelReference Model, int? Start, int? End, IReadOnlyDictionary<string, ParameterSetting> Parameters);

/// <summary>An output slice: layers made by merging the same number of layers from each source.</summary>
public sealed record OutputSlice(IReadOnlyList<InputSlice> Sources, ModelReference? BaseModel, IReadOnlyDictionary<string, ParameterSetting> Parameters);

/// <summary>A model entry of <c>models:</c> with its per-model parameters.</summary>
public sealed record InputModel(ModelReference Model, IReadOnlyDictionary<string, ParameterSetting> Parameters);

/// <summary>A mergekit merge configuration, as its YAML states it.</summary>
public sealed record MergeRecipe
{
    public required string MergeMethod { get; init; }

    public IReadOnlyList<InputModel>? Models { get; init; }

    public IReadOnlyList<OutputSlice>? Slices { get; init; }

    public ModelReference? BaseModel { get; init; }

    public IReadOnlyDictionary<string, ParameterSetting> Parameters { get; init; } = new Dictionary<string, ParameterSetting>();

    /// <summary>The dtype tensors are converted to before the method runs (mergekit's <c>dtype</c>).</summary>
    public string? DType { get; init; }

    public string? OutDType { get; init; }

    /// <summary>The output vocabulary (<c>tokenizer_source</c> or <c>tokenizer.source</c>): <c>base</c>, <c>union</c>, a model, or null to copy the base's files unchanged.</summary>
    public string? TokenizerSource { get; init; }

    /// <summary>mergekit's <c>tokenizer.tokens</c>: where named tokens' embeddings come from.</summary>
    public IReadOnlyDictionary<string, TokenEmbeddingSetting> TokenEmbeddings { get; init; } = new Dictionary<string, TokenEmbeddingSetting>();

    /// <summary>mergekit's <c>tokenizer.pad_to_multiple_of</c>: embedding rows are padded to a multiple of it.</summary>
    public int? PadToMultipleOf { get; init; }

    public string? ChatTemplate { get; init; }

    /// <summary>The rows data-aware methods (regmean, fisher) compute their statistics on; null where the recipe has none.</summary>
    public CalibrationSettings? Calibration { get; init; }

    /// <summary>The recipe's own text, written into the model card.</summary>
    public string SourceText { get; init; } = "";

    /// <summary>Every model the recipe names, base first, each once.</summary>
    public IEnumerable<ModelReference> ReferencedModels()
    {
        var seen = new HashSet<ModelReference>();
        if (BaseModel is not null && seen.Add(BaseModel))
            yield return BaseModel;
        foreach (var m in Models ?? [])
        {
            if (seen.Add(m.Model))
                yield return m.Model;
        }
        foreach (var s in Slices ?? [])
        {
            foreach (var src in s.Sources)
            {
                if (seen.Add(src.Model))
                    yield return src.Model;
            }
        }
    }
}

/// <summary>Where one token's embedding row comes from (mergekit's TokenEmbeddingConfig.source).</summary>
public abstract record TokenEmbeddingSource
{
    /// <summary>The row of the same token in a model (a model path given as <c>source</c>).</summary>
    public sealed record Model(ModelReference Reference) : TokenEmbeddingSource;

    /// <summary>A zero row (<c>kind: zero</c>).</summary>
    public sealed record Zero : TokenEmbeddingSource;

    /// <summary>The row of another token, by id or by string, in a model (<c>kind: model_token</c>).</summary>
    public sealed record ModelToken(ModelReference Reference, int? TokenId, string? Token) : TokenEmbeddingSource;
}

/// <summary>One entry of <c>tokenizer.tokens</c>: its source, and whether it replaces rows models already have (<c>force</c>).</summary>
public sealed record TokenEmbeddingSetting(TokenEmbeddingSource? Source, bool Force);
