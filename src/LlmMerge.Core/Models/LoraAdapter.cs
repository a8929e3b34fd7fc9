using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Core.Models;

/// <summary>The low-rank pair PEFT trained for one base weight: ΔW = scale · B·A (transposed for embeddings and fan_in_fan_out).</summary>
/// <param name="Module">The base module's name, e.g. <c>model.layers.0.self_attn.q_proj</c>.</param>
/// <param name="BaseTensor">The base tensor it changes: the module's <c>.weight</c>.</param>
/// <param name="A">lora_A: [r, in] (for an embedding, [r, vocabulary]).</param>
/// <param name="B">lora_B: [out, r] (for an embedding, [hidden, r]).</param>
/// <param name="Scale">lora_alpha / r, or lora_alpha / sqrt(r) with rsLoRA.</param>
/// <param name="Transposed">ΔW is (B·A)ᵀ: embeddings (PEFT's lora_embedding_A/B) and Conv1D weights (fan_in_fan_out).</param>
public sealed record LoraPair(string Module, string BaseTensor, TensorInfo A, TensorInfo B, double Scale, bool Transposed)
{
    public int Rank => (int)A.Shape[0];
}

/// <summary>
/// A PEFT LoRA adapter folder: <c>adapter_config.json</c> and <c>adapter_model.safetensors</c>, whose tensors are named
/// <c>base_model.model.&lt;module&gt;.lora_A.weight</c> / <c>lora_B.weight</c> (<c>lora_embedding_A</c>/<c>_B</c> for
/// embeddings); other tensors there are whole weights PEFT saved for <c>modules_to_save</c>, which replace the base's.
/// Where there is no safetensors file, PEFT's older <c>adapter_model.bin</c> (a torch.save state dict) is read.
/// The weights file stays memory-mapped until the adapter is disposed.
/// </summary>
public sealed class LoraAdapter : IDisposable
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";
    public const string PyTorchWeightsFile = "adapter_model.bin";
    private const string Prefix = "base_model.model.";

    private readonly Dictionary<string, LoraPair> _pairs;
    private readonly Dictionary<string, TensorInfo> _replacements;

    public string Directory { get; }

    public AdapterConfig Config { get; }

    public ITensorFile File { get; }

    /// <summary>Base tensor name → the pair that changes it.</summary>
    public IReadOnlyDictionary<string, LoraPair> Pairs => _pairs;

    /// <summary>Base tensor name → the adapter's whole replacement (modules_to_save).</summary>
    public IReadOnlyDictionary<string, TensorInfo> Replacements => _replacements;

    /// <summary>Whether a folder holds an adapter rather than a model (an adapter config and no model weights).</summary>
    public static bool IsAdapterFolder(string dir) =>
        System.IO.File.Exists(System.IO.Path.Combine(dir, ConfigFile))
        && !System.IO.File.Exists(System.IO.Path.Combine(dir, "model.safetensors"))
        && !System.IO.File.Exists(System.IO.Path.Combine(dir, "model.safetensors.index.json"))
        && !System.IO.File.Exists(System.IO.Path.Combine(dir, "pytorch_model.bin"))
        && !System.IO.File.Exists(System.IO.Path.Combine(dir, "pytorch_model.bin.index.json"));

    private LoraAdapter(string dir, AdapterConfig config, ITensorFile file)
    {
        Directory = dir;
        Config = config;
        File = file;
        var a = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var b = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var embedding = new HashSet<string>(StringComparer.Ordinal);
        _replacements = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        foreach (var t in file.Tensors)
        {
            string name = t.Name.StartsWith(Prefix, StringComparison.Ordinal) ? t.Name[Prefix.Length..] : t.Name;
            if (TrySplit(name, ".lora_A.weight", out var m) || TrySplit(name, ".lora_A.default.weight", out m))
                a[m] = t;
            else if (TrySplit(name, ".lora_B.weight", out m) || TrySplit(name, ".lora_B.default.weight", out m))
                b[m] = t;
            else if (TrySplit(name, ".lora_embedding_A", out m) || TrySplit(name, ".lora_embedding_A.default", out m))
            {
                a[m] = t;
                embedding.Add(m);
            }
            else if (TrySplit(name, ".lora_embedding_B", out m) || TrySplit(name, ".lora_embedding_B.default", out m))
            {
                b[m] = t;
                embedding.Add(m);
            }
            else if (name.Contains(".lora_", StringComparison.Ordinal))
                throw new LlmMergeException($"{file.Path}: tensor '{t.Name}' is a LoRA part llmmerge does not know (DoRA magnitudes and LoRA biases are not supported)");
            else
                _replacements[name] = t;
        }

        _pairs = new Dictionary<string, LoraPair>(StringComparer.Ordinal);
        foreach (var (module, ta) in a)
        {
            if (!b.TryGetValue(module, out var tb))
                throw new LlmMergeException($"{file.Path}: module '{module}' has lora_A but no lora_B; the adapter is incomplete");
            if (ta.Shape.Length != 2 || tb.Shape.Length != 2 || ta.Shape[0] != tb.Shape[1])
                throw new LlmMergeException($"{file.Path}: module '{module}': lora_A {ta.ShapeText} and lora_B {tb.ShapeText} do not multiply (B·A needs B's columns = A's rows = r)");
            if (!ta.DType.IsMergeable() || !tb.DType.IsMergeable())
                throw new LlmMergeException($"{file.Path}: module '{module}': LoRA weights must be floating point (got {ta.DType}, {tb.DType})");
            int rank = config.EffectiveRank(module);
            if (ta.Shape[0] != rank)
                throw new LlmMergeException($"{file.Path}: module '{module}' has rank {ta.Shape[0]} but {config.Path} says r = {rank}; the adapter and its config do not belong together");
            bool isEmbedding = embedding.Contains(module);
            _pairs[module + ".weight"] = new LoraPair(module, module + ".weight", ta, tb, config.Scale(module), isEmbedding || config.FanInFanOut);
        }
        foreach (var module in b.Keys.Where(k => !a.ContainsKey(k)))
            throw new LlmMergeException($"{file.Path}: module '{module}' has lora_B but no lora_A; the adapter is incomplete");
    }

    private static bool TrySplit(string name, string suffix, out string module)
    {
        if (name.EndsWith(suffix, StringComparison.Ordinal))
        {
            module = name[..^suffix.Length];
            return true;
        }
        module = "";
        return false;
    }

    /// <summary>Opens an adapter folder; failures name the folder and the missing file.</summary>
    public static LoraAdapter Open(string dir)
    {
        string configPath = System.IO.Path.Combine(dir, ConfigFile);
        if (!System.IO.File.Exists(configPath))
            throw new LlmMergeException($"{dir}: not a LoRA adapter folder (no {ConfigFile})");
        var config = AdapterConfig.Load(configPath);
        // PEFT's own order: safetensors first, the pickle only where there is none.
        string weights = System.IO.Path.Combine(dir, WeightsFile);
        if (!System.IO.File.Exists(weights))
            weights = System.IO.Path.Combine(dir, PyTorchWeightsFile);
        if (!System.IO.File.Exists(weights))
            throw new LlmMergeException($"{dir}: no {WeightsFile} or {PyTorchWeightsFile}; the adapter folder is incomplete");
        var file = TensorFiles.Open(weights);
        try
        {
            return new LoraAdapter(dir, config, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Checks the adapter against its base: every target module and every adapted tensor must exist there with a
    /// shape ΔW fits. <paramref name="adapterName"/> and <paramref name="baseName"/> are how the recipe names them.
    /// </summary>
    public void CheckAgainst(ModelFolder baseModel, string adapterName, string baseName)
    {
        var modules = baseModel.TensorNames
            .Select(n => n.EndsWith(".weight", StringComparison.Ordinal) ? n[..^".weight".Length] : n.EndsWith(".bias", StringComparison.Ordinal) ? n[..^".bias".Length] : n)
            .ToHashSet(StringComparer.Ordinal);
        foreach (var target in Config.TargetModules ?? [])
        {
            if (!modules.Any(m => m == target || m.EndsWith("." + target, StringComparison.Ordinal)))
                throw new LlmMergeException($"adapter '{adapterName}': target module '{target}' (in {Config.Path}) is not in base model '{baseName}'; is this the adapter's base?");
        }
        foreach (var pair in _pairs.Values)
        {
            if (!baseModel.Contains(pair.BaseTensor))
                throw new LlmMergeException($"adapter '{adapterName}': module '{pair.Module}' has no weight '{pair.BaseTensor}' in base model '{baseName}'; is this the adapter's base?");
            var w = baseModel.GetInfo(pair.BaseTensor);
            long rows = pair.Transposed ? pair.A.Shape[1] : pair.B.Shape[0];
            long cols = pair.Transposed ? pair.B.Shape[0] : pair.A.Shape[1];
            if (w.Shape.Length != 2 || w.Shape[0] != rows || w.Shape[1] != cols)
                throw new LlmMergeException(
                    $"adapter '{adapterName}': module '{pair.Module}' makes a [{rows}, {cols}] update but '{pair.BaseTensor}' of base model '{baseName}' is {w.ShapeText}"
                    + (Config.FanInFanOut ? "" : " (if the base stores it as [in, out], the adapter needs fan_in_fan_out: true)"));
            if (!w.DType.IsMergeable())
                throw new LlmMergeException($"adapter '{adapterName}': '{pair.BaseTensor}' of base model '{baseName}' is {w.DType}, which a LoRA update cannot be added to");
        }
        foreach (var (name, t) in _replacements)
        {
            if (!baseModel.Contains(name))
                throw new LlmMergeException($"adapter '{adapterName}': saved module weight '{t.Name}' has no tensor '{name}' in base model '{baseName}'");
            var w = baseModel.GetInfo(name);
            if (!w.SameShape(t) || !t.DType.IsMergeable() || !w.DType.IsMergeable())
                throw new LlmMergeException($"adapter '{adapterName}': saved module weight '{t.Name}' is {t.ShapeText} {t.DType}, but '{name}' of base model '{baseName}' is {w.ShapeText} {w.DType}");
        }
    }

    public void Dispose() => File.Dispose();
}
