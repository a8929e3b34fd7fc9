using LlmMerge.Core;
using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Methods;
using LlmMerge.Modeling.Sources;

namespace LlmMerge.Engine.Execution;

/// <summary>
/// Turns a recipe into a <see cref="MergePlan"/> the way mergekit's planner does (mergekit/plan.py and config.py at
/// commit a6e40288): <c>models</c> become one slice over every layer; each slice's layers are planned with
/// t = i / (n - 1) (t = 1 for a one-layer slice); the tensors before the layers (with the first slice) and after
/// them (the final norm and <c>lm_head</c>, with the last slice) use t = 0, since plan_module reads both through one
/// <c>ConfigReader(t=0)</c> (mergekit before PR #534, fd5eb19, used t = 1 after the layers). A parameter is looked
/// up on the slice source of its model, then the slice, then the global <c>parameters</c>, then the method's default.
/// </summary>
public sealed class MergePlanner
{
    private readonly Func<ModelReference, IModelSource> _open;

    /// <param name="open">Opens (and caches) the model a reference names; throws naming it when it is missing.</param>
    public MergePlanner(Func<ModelReference, IModelSource> open) => _open = open;

    public MergePlan Plan(MergeRecipe recipe)
    {
        var method = MergeMethodRegistry.Get(recipe.MergeMethod);
        var warnings = new List<string>();
        var slices = NormalizeSlices(recipe);
        var models = slices.SelectMany(s => s.Sources.Select(x => x.Model)).Distinct().ToList();
        var baseModel = recipe.BaseModel;
        if (method.RequiresBaseModel && baseModel is null)
            throw new LlmMergeException($"merge method '{method.Name}' needs a base_model; name one in the recipe");
        method.ValidateModelCount(models.Count, baseModel is not null);
        CheckParameterNames(recipe, method);

        var sd = recipe.DType is null ? (SafetensorsDType?)null : ParseDType(recipe.DType, "dtype");
        var od = recipe.OutDType is null ? (SafetensorsDType?)null : ParseDType(recipe.OutDType, "out_dtype");

        var first = slices[0];
        var last = slices[^1];
        // mergekit's _model_out_config: the output config (and the architecture, so the names of the tensors around
        // the layers) is the base model's, else that of the first model referenced.
        var reference = baseModel ?? first.Sources[0].Model;
        var refFolder = _open(reference);
        var pre = new List<string>();
        var post = new List<string>();
        foreach (var name in refFolder.TensorNames)
        {
            if (TensorNames.TryParseLayer(name, out _, out _, out _))
                continue;
            (TensorNames.IsPreWeight(name) ? pre : post).Add(name);
        }
        string? inputEmbedding = pre.FirstOrDefault(TensorNames.IsEmbedding);
        // A tied reference has no lm_head, but mergekit's architectures list it (optional): it is merged where any
        // model of the last slice stores one.
        foreach (var src in last.Sources)
        {
            foreach (var name in _open(src.Model).TensorNames)
            {
                if (TensorNames.IsLmHead(name) && !post.Contains(name))
                    post.Add(name);
            }
        }
        // mergekit builds the output vocabulary whenever a tokenizer source is given, even where the models share one.
        var vocabulary = recipe.TokenizerSource is null ? null
            : VocabularyAlignment.Build(recipe, reference, recipe.ReferencedModels().ToList(), _open, warnings);

        var planned = new List<PlannedTensor>();
        foreach (var name in pre)
            planned.Add(PlanTensor(recipe, method, first, name, first.Sources.Select(s => (s, name)).ToList(), 0, baseModel, sd, od, warnings, vocabulary, outsideLayers: true));

        int outLayer = 0;
        foreach (var slice in slices)
        {
            int n = slice.Sources[0].End!.Value - slice.Sources[0].Start!.Value;
            var sliceRef = ReferenceOf(slice, baseModel);
            var refSource = slice.Sources.First(s => s.Model == sliceRef);
            var refLayers = LayerTensors(_open(sliceRef));
            for (int i = 0; i < n; i++)
            {
                double t = n > 1 ? (double)i / (n - 1) : 1;
                int refLayer = refSource.Start!.Value + i;
                if (!refLayers.TryGetValue(refLayer, out var suffixes))
                    throw new LlmMergeException($"model '{sliceRef}' has no layer {refLayer} (layer_range [{refSource.Start}, {refSource.End}])");
                foreach (var (prefix, rest) in suffixes)
                {
                    var inputs = slice.Sources.Select(s => (s, prefix + (s.Start!.Value + i) + rest)).ToList();
                    planned.Add(PlanTensor(recipe, method, slice, prefix + outLayer + rest, inputs, t, baseModel, sd, od, warnings, vocabulary, outsideLayers: false));
                }
                outLayer++;
            }
        }

        ModelConfig? config = refFolder.Config?.Clone();
        bool outputTied = config?.TieWordEmbeddings == true;
        // mergekit zips the last slice's models with one weight per source of the *first* slice, so where the last
        // slice has more sources than the first, its extra models take no part in the tensors after the layers.
        var postSources = last.Sources.Take(first.Sources.Count).ToList();
        foreach (var name in post)
        {
            var inputs = postSources.Select(s => (s, name)).ToList();
            if (TensorNames.IsLmHead(name))
            {
                // mergekit's tied_names: a model without its own lm_head contributes its input embedding.
                var stored = inputs.Where(x => _open(x.s.Model).Contains(name)).Select(x => x.s.Model).ToList();
                if (stored.Count == 0)
                    continue;
                if (outputTied)
                {
                    // transformers replaces a tied lm_head with embed_tokens on load: written, it would only disagree with it.
                    warnings.Add($"tensor '{name}' is not written: the output config (from '{reference}') has tie_word_embeddings: true, so the head is "
                        + $"the merged '{inputEmbedding ?? "input embedding"}'; '{string.Join("', '", stored)}' stored a separate head, which the output drops");
                    continue;
                }
                if (inputEmbedding is not null)
                    inputs = inputs.Select(x => _open(x.s.Model).Contains(name) || !_open(x.s.Model).Contains(inputEmbedding) ? x : (x.s, inputEmbedding)).ToList();
            }
            planned.Add(PlanTensor(recipe, method, last, name, inputs, 0, baseModel, sd, od, warnings, vocabulary, outsideLayers: true));
        }

        var outDType = od ?? sd ?? planned.Select(p => p.OutDType).FirstOrDefault(SafetensorsDType.F32);
        if (config is not null)
        {
            config.Json["num_hidden_layers"] = outLayer;
            config.Json["torch_dtype"] = outDType.TorchName();
            // mergekit's _update_config_vocab: the output vocabulary's size (padded), whatever the base said.
            if (vocabulary is not null)
                config.Json["vocab_size"] = vocabulary.Rows;
            // Without a tokenizer_source mergekit keeps the common submatrix of differing embeddings but leaves
            // vocab_size as the base says, which transformers then refuses to load; say what the tensors hold.
            else if (planned.FirstOrDefault(p => p.Name == inputEmbedding) is { } embed && config.VocabSize is int vocab && vocab != embed.Shape[0]
                && embed.Shape[0] != refFolder.GetInfo(embed.Name).Shape[0])
            {
                config.Json["vocab_size"] = embed.Shape[0];
                warnings.Add($"config.json: vocab_size set to {embed.Shape[0]} (was {vocab}) to match the merged '{embed.Name}'; tokens of the copied tokenizer past that id have no embedding");
            }
        }

        long inputBytes = planned.Sum(p => p.Inputs.Sum(i => _open(i.Model).GetInfo(i.TensorName).ByteLength));
        return new MergePlan
        {
            Recipe = recipe,
            Method = method,
            Tensors = planned,
            OutputConfig = config,
            ReferenceModel = reference,
            OutDType = outDType,
            Warnings = warnings,
            InputBytes = inputBytes,
            Vocabulary = vocabulary,
        };
    }

    private static SafetensorsDType ParseDType(string text, string key)
    {
        try { return SafetensorsDTypes.ParseTorchName(text); }
        catch (LlmMergeException) { throw new LlmMergeException($"{key}: unknown dtype '{text}'; use bfloat16, float16 or float32"); }
    }

    private static ModelReference ReferenceOf(OutputSlice slice, ModelReference? baseModel) =>
        slice.BaseModel is { } sb && slice.Sources.Any(s => s.Model == sb) ? sb
        : baseModel is not null && slice.Sources.Any(s => s.Model == baseModel) ? baseModel
        : slice.Sources[0].Model;

    /// <summary>Layer index → (prefix, suffix) of each of that layer's tensors, in file order.</summary>
    private static Dictionary<int, List<(string Prefix, string Suffix)>> LayerTensors(IModelSource folder)
    {
        var res = new Dictionary<int, List<(string, string)>>();
        foreach (var name in folder.TensorNames)
        {
            if (TensorNames.TryParseLayer(name, out var prefix, out int index, out var rest))
            {
                if (!res.TryGetValue(index, out var list))
                    res[index] = list = new();
                list.Add((prefix, rest));
            }
        }
        return res;
    }

    private int LayerCount(ModelReference model)
    {
        var folder = _open(model);
        if (folder.Config?.NumHiddenLayers is int n)
            return n;
        var layers = LayerTensors(folder);
        return layers.Count == 0 ? 0 : layers.Keys.Max() + 1;
    }

    /// <summary>mergekit's normalize_config: <c>models</c> become one slice over all layers, the base added when absent.</summary>
    private List<OutputSlice> NormalizeSlices(MergeRecipe recipe)
    {
        if (recipe.Slices is { } given)
        {
            var res = new List<OutputSlice>();
            foreach (var s in given)
            {
                var sources = s.Sources.Select(src => src.Start is null
                    ? src with { Start = 0, End = LayerCount(src.Model) }
                    : src).ToList();
                int n = sources[0].End!.Value - sources[0].Start!.Value;
                var bad = sources.FirstOrDefault(x => x.End - x.Start != n);
                if (bad is not null)
                    throw new LlmMergeException(
                        $"all sources of a slice must hold the same number of layers: '{sources[0].Model}' gives {n} ([{sources[0].Start}, {sources[0].End}]), '{bad.Model}' gives {bad.End - bad.Start} ([{bad.Start}, {bad.End}])");
                foreach (var src in sources)
                {
                    int count = LayerCount(src.Model);
                    if (src.End > count)
                        throw new LlmMergeException($"layer_range [{src.Start}, {src.End}] of '{src.Model}' goes past its {count} layers");
                }
                res.Add(s with { Sources = sources });
            }
            return res;
        }
        var inputs = new List<InputSlice>();
        foreach (var m in recipe.Models!)
            inputs.Add(new InputSlice(m.Model, 0, LayerCount(m.Model), m.Parameters));
        if (recipe.BaseModel is { } b && inputs.All(i => i.Model != b))
            inputs.Add(new InputSlice(b, 0, LayerCount(b), new Dictionary<string, ParameterSetting>()));
        var counts = inputs.Select(i => i.End).Distinct().ToList();
        if (counts.Count > 1)
            throw new LlmMergeException(
                "models have different numbers of layers (" + string.Join(", ", inputs.Select(i => $"'{i.Model}': {i.End}")) + "); use slices with layer_range to say which layers to merge");
        return [new OutputSlice(inputs, null, new Dictionary<string, ParameterSetting>())];
    }

    private PlannedTensor PlanTensor(MergeRecipe recipe, IMergeMethod method, OutputSlice slice, string outName,
        List<(InputSlice Source, string Name)> inputs, double t, ModelReference? baseModel,
        SafetensorsDType? computeDType, SafetensorsDType? outDType, List<string> warnings, VocabularyAlignment? vocabulary, bool outsideLayers)
    {
        var effectiveBase = slice.BaseModel ?? baseModel;
        method.ValidateTensorInputs(outName, inputs.Select(x => x.Source.Model).ToList());
        var infos = new List<TensorInfo>();
        foreach (var (src, name) in inputs)
        {
            var folder = _open(src.Model);
            if (!folder.Contains(name))
                throw new LlmMergeException($"model '{src.Model}' has no tensor '{name}' (needed for output tensor '{outName}')");
            infos.Add(folder.GetInfo(name));
        }

        var globals = new Dictionary<string, object?>();
        foreach (var p in method.Parameters)
            globals[p.Name] = Lookup(recipe, slice, null, p, outName, t)
                ?? (p.Required ? throw new LlmMergeException($"merge method '{method.Name}' needs parameter '{p.Name}'; add it under parameters") : p.Default);

        var planned = new List<PlannedInput>();
        for (int i = 0; i < inputs.Count; i++)
        {
            var (src, name) = inputs[i];
            bool isBase = src.Model == effectiveBase;
            // mergekit filters a per-model parameter by the input weight's name: in a layer, the source's own layer
            // index; around the layers, the output's name, also where a tied model's embedding stands in for lm_head.
            string filterName = outsideLayers ? outName : name;
            var ps = new Dictionary<string, object?>();
            foreach (var p in method.TensorParameters)
            {
                ps[p.Name] = Lookup(recipe, slice, src, p, filterName, t)
                    ?? (p.Required && !isBase
                        ? throw new LlmMergeException($"merge method '{method.Name}' needs parameter '{p.Name}' for model '{src.Model}'; add it to the model's parameters or the global parameters")
                        : p.Default);
            }
            planned.Add(new PlannedInput(src.Model, name, ps));
        }

        int refIndex = Math.Max(0, inputs.FindIndex(x => x.Source.Model == effectiveBase));
        var refInfo = infos[refIndex];
        bool embed = TensorNames.IsEmbedding(outName);
        long[] shape = refInfo.Shape;
        bool byToken = vocabulary is not null && HasVocabularyRows(outName);
        if (byToken)
        {
            // Rows are moved into the output vocabulary by token (VocabularyAlignment); only the other dimensions must agree.
            if (infos.Any(x => !x.Shape.Skip(1).SequenceEqual(refInfo.Shape.Skip(1))))
                throw new LlmMergeException($"tensor '{outName}' has rows of different widths in different models ({string.Join(", ", inputs.Select((x, i) => $"'{x.Source.Model}' {infos[i].ShapeText}"))}); these models cannot be merged");
            shape = [vocabulary!.Rows, .. refInfo.Shape.Skip(1)];
        }
        else if (infos.Any(x => !x.SameShape(refInfo)))
        {
            string shapes = string.Join(", ", inputs.Select((x, i) => $"'{x.Source.Model}' {infos[i].ShapeText}"));
            if (!embed || infos.Any(x => x.Shape.Length != refInfo.Shape.Length))
                throw new LlmMergeException($"tensor '{outName}' has different shapes in different models ({shapes}); these models cannot be merged tensor by tensor");
            shape = Enumerable.Range(0, refInfo.Shape.Length).Select(d => infos.Min(x => x.Shape[d])).ToArray();
            warnings.Add($"tensor '{outName}': shapes differ ({shapes}); using the common submatrix [{string.Join(", ", shape)}], as mergekit does");
        }

        if (!byToken && infos.Any(x => !x.DType.IsMergeable()))
        {
            return new PlannedTensor
            {
                Name = outName, Shape = refInfo.Shape, OutDType = refInfo.DType, ComputeDType = refInfo.DType,
                Inputs = planned, Parameters = globals, IsEmbedding = embed, PassThrough = planned[refIndex], BaseModel = effectiveBase,
            };
        }
        var compute = computeDType ?? refInfo.DType;
        return new PlannedTensor
        {
            Name = outName, Shape = shape, OutDType = outDType ?? compute, ComputeDType = compute,
            Inputs = planned, Parameters = globals, IsEmbedding = embed, BaseModel = effectiveBase,
            Vocabulary = byToken ? vocabulary : null,
        };
    }

    /// <summary>Tensors with a row per token (mergekit's is_embed weights): input embeddings and output heads, not their norms.</summary>
    private static bool HasVocabularyRows(string name) =>
        (TensorNames.IsEmbedding(name) || TensorNames.IsLmHead(name)) && !name.Contains("norm", StringComparison.Ordinal);

    /// <summary>A parameter the method does not read is a typo or a recipe for another method: say so rather than ignore it.</summary>
    private static void CheckParameterNames(MergeRecipe recipe, IMergeMethod method)
    {
        var known = method.Parameters.Concat(method.TensorParameters).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var given = recipe.Parameters.Keys
            .Concat((recipe.Models ?? []).SelectMany(m => m.Parameters.Keys))
            .Concat((recipe.Slices ?? []).SelectMany(s => s.Parameters.Keys.Concat(s.Sources.SelectMany(x => x.Parameters.Keys))));
        foreach (var name in given)
        {
            if (!known.Contains(name))
                throw new LlmMergeException($"unknown parameter '{name}' for merge method '{method.Name}'; it takes: {string.Join(", ", known.Order(StringComparer.Ordinal))}");
        }
    }

    /// <summary>
    /// mergekit's ConfigReader.parameter: slice source, slice, global; null where none is set. A <c>models</c> entry's
    /// parameters are its slice source's (normalize_config), and recipes here have no <c>modules</c>, whose level
    /// would come between the slice and the global parameters.
    /// </summary>
    private static object? Lookup(MergeRecipe recipe, OutputSlice slice, InputSlice? source, ParameterDefinition p, string tensorName, double t)
    {
        if (source is not null && source.Parameters.TryGetValue(p.Name, out var s) && Evaluate(s, p, tensorName, t) is { } v1)
            return v1;
        if (slice.Parameters.TryGetValue(p.Name, out var sp) && Evaluate(sp, p, tensorName, t) is { } v2)
            return v2;
        if (recipe.Parameters.TryGetValue(p.Name, out var gp) && Evaluate(gp, p, tensorName, t) is { } v3)
            return v3;
        return null;
    }

    /// <summary>A setting's value for one tensor; a list parameter takes a YAML list whole instead of spreading it over the layers.</summary>
    private static object? Evaluate(ParameterSetting setting, ParameterDefinition p, string tensorName, double t) => !p.IsList ? setting.Evaluate(tensorName, t) : setting switch
    {
        ParameterSetting.Steps steps => steps.Values,
        ParameterSetting.Gradient numbers => numbers.Values.Cast<object>().ToArray(),
        ParameterSetting.Conditional c => c.Conditions.FirstOrDefault(x => x.Filter is null || x.Filter == "*" || tensorName.Contains(x.Filter, StringComparison.Ordinal)) is { Value: { } v }
            ? Evaluate(v, p, tensorName, t) : null,
        _ => setting.Evaluate(tensorName, t) is { } one ? new[] { one } : null,
    };
}
