using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Execution;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;
using LlmMerge.Search.Scoring;
using LlmMerge.Search.Tasks;
using LlmMerge.Tokenizers;
using static TorchSharp.torch;

namespace LlmMerge.Search;

/// <summary>
/// mergekit-evolve's InMemoryMergeEvaluator (mergekit/evo/actors.py at a6e40288): one resident model whose
/// parameters each candidate's merge overwrites (the executor's <see cref="ParameterSink"/>, rounded to the recipe's
/// out dtype, so it computes what the folder a disk merge writes would), input tensors read once for the whole search
/// (<see cref="InputTensorCache"/>), then scored on the tasks. Nothing is written to disk per candidate. The model is
/// built again only if a candidate's output config differs (mergekit's _maybe_init_model).
/// </summary>
public sealed class InMemoryEvaluator : IDisposable
{
    private readonly ModelResolver _models;
    private readonly MergeOptions _options;
    private readonly ITaskScorer _scorer;
    private readonly string _workDir;
    private readonly InputTensorCache _cache = new();
    private TorchCausalLanguageModel? _model;
    private string? _configJson;
    private HfTokenizer? _tokenizer;

    /// <param name="models">Resolves and keeps open the genome's models.</param>
    /// <param name="options">Device and seed of the merges.</param>
    /// <param name="scorer">Scores the resident model on a task.</param>
    /// <param name="workDir">Where a tokenizer the recipe builds (tokenizer_source) is written once for the whole search.</param>
    public InMemoryEvaluator(ModelResolver models, MergeOptions options, ITaskScorer scorer, string workDir)
    {
        _models = models;
        _options = options;
        _scorer = scorer;
        _workDir = workDir;
    }

    /// <summary>Bytes of input tensors kept.</summary>
    public long CachedBytes => _cache.Bytes;

    public SortedDictionary<string, TaskScore> Evaluate(MergeRecipe recipe, IReadOnlyList<SearchTask> tasks)
    {
        Prepare(recipe);
        using (var sink = ParameterSink.For(_model!.Model))
            new MergeExecutor(_models, _options, _cache).Run(recipe, sink);
        var scores = new SortedDictionary<string, TaskScore>(StringComparer.Ordinal);
        using var noGrad = no_grad();
        foreach (var t in tasks)
            scores[t.Spec.Name] = _scorer.Score(_model, _tokenizer!, t.Task);
        return scores;
    }

    private void Prepare(MergeRecipe recipe)
    {
        TorchRuntime.Initialize();
        var plan = new MergePlanner(_models.Source).Plan(recipe);
        var config = plan.OutputConfig ?? throw new Core.LlmMergeException($"model '{plan.ReferenceModel}' has no config.json; a candidate needs one to be built in memory");
        string json = config.ToJsonString();
        if (_model is not null && json == _configJson)
            return;
        _model?.Dispose();
        var device = TorchRuntime.ResolveDevice(_options.Device);
        _model = new TorchCausalLanguageModel(CausalLmArchitectures.Create(CausalLmArchitectures.ReadConfig(config), device, ScalarType.Float32));
        _configJson = json;
        _tokenizer = HfTokenizer.FromFolder(TokenizerFolder(plan));
    }

    /// <summary>The folder whose tokenizer the merged model gets, as the disk sink picks it; a tokenizer the recipe edits is written once.</summary>
    private string TokenizerFolder(MergePlan plan)
    {
        var source = plan.Vocabulary?.TokenizerModel ?? plan.Recipe.BaseModel ?? plan.ReferenceModel;
        string dir = _models.Source(source).Directory;
        if (plan.Vocabulary is not { EditsTokenizer: true } v)
            return dir;
        string edited = Path.Combine(_workDir, ".tokenizer");
        Directory.CreateDirectory(edited);
        foreach (var f in DiskSink.TokenizerFiles)
        {
            string p = Path.Combine(dir, f);
            if (File.Exists(p)) File.Copy(p, Path.Combine(edited, f), overwrite: true);
        }
        TokenizerJsonEditor.Write(dir, edited, v.KeepBelow, v.Appended);
        return edited;
    }

    public void Dispose()
    {
        _model?.Dispose();
        _cache.Dispose();
    }
}
