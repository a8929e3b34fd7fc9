using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Execution;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Sources;
using LlmMerge.Tokenizers;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Calibration;

/// <summary>
/// What the data-aware methods' preparations share: the recipe's calibration block, the models to merge (every
/// model but the base, as FusionBench merges its pool without the pretrained model), each model's rows and
/// fingerprint, the statistics cache (a temporary one, removed at the end, where the options name none) and progress.
/// </summary>
internal sealed class CalibrationContext : IDisposable
{
    private readonly Dictionary<ModelReference, CalibrationRows> _rows = new();
    private readonly Dictionary<ModelReference, string> _fingerprints = new();
    private readonly string? _temporary;

    public CalibrationContext(MergePreparationContext context, string method)
    {
        Preparation = context;
        Method = method;
        var recipe = context.Plan.Recipe;
        Settings = recipe.Calibration ?? throw new LlmMergeException(
            $"merge method '{method}' computes statistics on calibration rows: add a 'calibration:' block to the recipe (tasks: [TASK_FILE, ...], rows: 256, seed: 0)");
        BaseModel = recipe.BaseModel;
        Models = context.Plan.Tensors.SelectMany(t => t.Inputs.Select(i => i.Model)).Distinct().Where(m => m != BaseModel).ToList();
        if (Models.Count == 0)
            throw new LlmMergeException($"merge method '{method}' needs at least one model besides the base_model");
        foreach (var named in Settings.PerModelTasks.Keys)
        {
            if (!Models.Contains(named))
                throw new LlmMergeException($"calibration.tasks names model '{named}', which is not one of the models merged ({string.Join(", ", Models)})");
        }
        if (context.Options.CalibrationCache is { } dir)
        {
            Cache = new StatisticsCache(dir);
        }
        else
        {
            _temporary = Path.Combine(Path.GetTempPath(), $"llmmerge-calibration-{Environment.ProcessId}-{Guid.NewGuid():N}");
            Cache = new StatisticsCache(_temporary);
        }
    }

    public MergePreparationContext Preparation { get; }

    public string Method { get; }

    public CalibrationSettings Settings { get; }

    public ModelReference? BaseModel { get; }

    /// <summary>The models merged, in the order the plan first reads them.</summary>
    public IReadOnlyList<ModelReference> Models { get; }

    public StatisticsCache Cache { get; }

    public Device Device => Preparation.Device;

    public IModelSource Source(ModelReference model) => Preparation.Models.Source(model);

    public void Info(string line) => Preparation.Info?.Invoke($"{Method}: {line}");

    /// <summary>The model's rows, encoded with its own tokenizer (the base's, for an adapter) and cut to its length.</summary>
    public CalibrationRows RowsOf(ModelReference model)
    {
        if (_rows.TryGetValue(model, out var rows))
            return rows;
        var source = Source(model);
        var config = CausalLmArchitectures.ReadConfig(source.Config ?? throw new LlmMergeException($"{source.Directory}: no config.json; calibration runs the model and needs its shape"));
        var tokenizer = HfTokenizer.FromFolder(source.Directory);
        rows = CalibrationRows.Load(Settings.TasksOf(model), Settings.Rows, Settings.Seed, tokenizer, config.MaxPositionEmbeddings);
        return _rows[model] = rows;
    }

    public string FingerprintOf(ModelReference model)
    {
        if (!_fingerprints.TryGetValue(model, out var fp))
            _fingerprints[model] = fp = ModelFingerprint.Of(Source(model), Cache.Directory);
        return fp;
    }

    /// <summary>The model in float32 on the merge's device, its weights read through its source (adapters applied).</summary>
    public DecoderForCausalLM LoadModel(ModelReference model)
    {
        var source = Source(model);
        var config = CausalLmArchitectures.ReadConfig(source.Config ?? throw new LlmMergeException($"{source.Directory}: no config.json"));
        var m = CausalLmArchitectures.Create(config, Device, ScalarType.Float32);
        try
        {
            CausalLmWeights.Load(m, source);
        }
        catch
        {
            m.Dispose();
            throw;
        }
        return m;
    }

    public void Dispose()
    {
        if (_temporary is not null && Directory.Exists(_temporary))
        {
            try { Directory.Delete(_temporary, recursive: true); }
            catch (IOException) { }
        }
    }
}
