using LlmMerge.Core;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Routing;
using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Routing;

/// <summary>
/// Query routing at evaluation: each row's context, encoded as the prototypes' prompts were, runs through the base up
/// to the router's layer; its pooled hidden state is compared by cosine with every expert's prototype, and the closest
/// expert (the first among equals) scores the row. The base shares the experts' memory budget.
/// </summary>
internal sealed class QueryRoutedSystem : IRoutedSystem
{
    private readonly RouterManifest _manifest;
    private readonly double[][] _prototypes;
    private readonly HfTokenizer _tokenizer;
    private readonly ModelPool<ICausalLanguageModel> _pool;
    private readonly int _baseIndex;

    public QueryRoutedSystem(string dir, RouterManifest manifest, Func<string, ICausalLanguageModel> loadExpert, string device, string dtype, long budget)
    {
        _manifest = manifest;
        _prototypes = ReadPrototypes(Path.Combine(dir, RouterManifest.WeightsFile), manifest.Experts.Count);
        _tokenizer = HfTokenizer.FromFolder(dir);
        var folders = manifest.Experts.Append(manifest.Base).Select(e => new Lazy<string>(() => RouterExperts.Locate(dir, e))).ToArray();
        _baseIndex = manifest.Experts.Count;
        _pool = new ModelPool<ICausalLanguageModel>(
            i => i == _baseIndex ? CausalLmLoader.LoadModel(folders[i].Value, device, dtype) : loadExpert(folders[i].Value),
            i => RouterExperts.EstimatedBytes(folders[i].Value), budget);
    }

    public IReadOnlyList<string> Experts => _manifest.Experts.Select(e => e.Name).ToList();

    /// <summary>The cosine of each context with each expert's prototype, as routing computes it: [context][expert].</summary>
    public double[][] Similarities(IReadOnlyList<string> contexts)
    {
        var model = ((TorchCausalLanguageModel)_pool.Get(_baseIndex)).Model;
        var ids = contexts.Select(c =>
        {
            var encoded = RoutingPrompts.Encode(_tokenizer, c, model.Config.MaxPositionEmbeddings);
            return encoded.Count > 0 ? encoded
                : _tokenizer.BosTokenId is int bos ? [bos]
                : throw new LlmMergeException("a query encodes to no tokens and the tokenizer has no BOS to stand for it; it cannot be routed");
        }).ToList();
        double[][] vectors = _manifest.GateMode == "cheap_embed"
            ? ids.Select(i => PromptPrototypes.CheapEmbedding(model, [i])).ToArray()
            : PromptPrototypes.Pooled(model, ids, [_manifest.Layer], _manifest.GateMode == "hidden_avg" ? PromptPooling.Mean : PromptPooling.LastToken).Select(v => v[0]).ToArray();
        return vectors.Select(v => _prototypes.Select(p => PromptPrototypes.Cosine(v, p)).ToArray()).ToArray();
    }

    public IReadOnlyList<int>? Route(EvalTask task, IReadOnlyList<EvalRow> rows)
    {
        var sims = Similarities(rows.Select(r => r.Context).ToList());
        var route = new int[rows.Count];
        for (int r = 0; r < rows.Count; r++)
        {
            int best = 0;
            for (int e = 1; e < sims[r].Length; e++)
            {
                if (sims[r][e] > sims[r][best]) best = e;
            }
            route[r] = best;
        }
        return route;
    }

    public ICausalLanguageModel Model(int expert) => _pool.Get(expert);

    private static double[][] ReadPrototypes(string path, int experts)
    {
        if (!File.Exists(path))
            throw new LlmMergeException($"{path}: missing; a query router keeps its prototypes there, build it again");
        using var file = SafetensorsFile.Open(path);
        if (!file.Contains(RouterManifest.PrototypesTensor))
            throw new LlmMergeException($"{path}: no tensor '{RouterManifest.PrototypesTensor}'; build the router again");
        var info = file.GetInfo(RouterManifest.PrototypesTensor);
        if (info.DType != SafetensorsDType.F32 || info.Shape.Length != 2 || info.Shape[0] != experts)
            throw new LlmMergeException($"{path}: '{RouterManifest.PrototypesTensor}' is {info.DType} {info.ShapeText}; router.json's {experts} experts need F32 [{experts}, hidden]");
        var bytes = file.GetBytes(info);
        int hidden = (int)info.Shape[1];
        var rows = new double[experts][];
        for (int e = 0; e < experts; e++)
        {
            rows[e] = new double[hidden];
            for (int i = 0; i < hidden; i++)
                rows[e][i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice((e * hidden + i) * 4, 4));
        }
        return rows;
    }

    public void Dispose() => _pool.Dispose();
}
