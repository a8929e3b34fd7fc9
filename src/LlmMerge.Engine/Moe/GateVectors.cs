using LlmMerge.Core;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Sources;
using LlmMerge.Tokenizers;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Moe;

/// <summary>
/// The router rows of a mixture, [layers, experts, hidden] in float32, as mergekit-moe's get_gate_params computes
/// them (mergekit/moe/router.py at a6e40288):
/// <list type="bullet">
/// <item><c>hidden</c>, <c>hidden_last</c>: the base's hidden state entering each layer (transformers'
/// <c>hidden_states[:-1]</c>) at a prompt's last token; <c>hidden_avg</c>: averaged over the prompt's tokens.
/// Averaged over the expert's positive prompts, the mean over its negative prompts subtracted, each layer's vector
/// divided by its L2 norm (at least 1e-8).</item>
/// <item><c>cheap_embed</c>: the sum of the prompts' token embeddings, normalized, the same for every layer; negative
/// prompts' normalized sum subtracted and normalized again.</item>
/// <item><c>random</c>: randn; <c>uniform_random</c>: uniform in ±√(1/hidden), nn.Linear's default; both drawn from
/// the run's generator before anything else, as mergekit draws them after seeding torch.</item>
/// </list>
/// A prompt is <c>bos_token + prompt</c> encoded without special tokens. mergekit runs the prompts of an expert as one
/// batch padded on the left with BOS; each prompt runs alone here, which gives the same last-token states, and for
/// <c>hidden_avg</c> the mean over the prompt's own tokens: mergekit's mean also takes in the padding positions of
/// prompts shorter than the longest (whose states depend on the attention backend), so the two agree where the
/// prompts of a list have the same length. mergekit computes the states in bfloat16; here in float32.
/// </summary>
internal static class GateVectors
{
    public static Tensor Compute(MoeInputs inputs, IReadOnlyList<(MoeExpert Definition, bool Shared)> experts, Generator generator, Device device)
    {
        var c = inputs.BaseConfig;
        long layers = c.NumHiddenLayers, hidden = c.HiddenSize, n = experts.Count;
        string mode = inputs.Recipe.GateMode;
        if (mode == "random")
            return randn([layers, n, hidden], ScalarType.Float32, CPU, generator: generator);
        if (mode == "uniform_random")
        {
            double scale = Math.Sqrt(1.0 / hidden);
            using var scope = NewDisposeScope();
            return (rand([layers, n, hidden], ScalarType.Float32, CPU, generator: generator) * 2 * scale - scale).MoveToOuterDisposeScope();
        }

        var tokenizer = HfTokenizer.FromFolder(inputs.Base.Directory);
        Func<IReadOnlyList<int[]>, Tensor> summarize;
        DecoderForCausalLM? model = null;
        Tensor? table = null;
        try
        {
            if (mode == "cheap_embed")
            {
                table = inputs.Base.Load(inputs.RequireBase("model.embed_tokens.weight"), ScalarType.Float32, CPU);
                var embed = table;
                summarize = prompts => CheapEmbedding(embed, prompts, layers);
            }
            else
            {
                model = LoadBase(inputs, device);
                var loaded = model;
                summarize = prompts => HiddenStates(loaded, prompts, average: mode == "hidden_avg");
            }

            var rows = new List<Tensor>();
            using var outer = NewDisposeScope();
            foreach (var (def, shared) in experts)
            {
                var v = summarize(Encode(inputs, tokenizer, def, shared, def.PositivePrompts ?? [], "positive_prompts"));
                if (def.NegativePrompts is { Count: > 0 } negative)
                    v = v - summarize(Encode(inputs, tokenizer, def, shared, negative, "negative_prompts"));
                rows.Add(Normalize(v));
            }
            // [experts, layers, hidden] -> [layers, experts, hidden], as get_gate_params permutes.
            return stack(rows, 0).permute(1, 0, 2).contiguous().MoveToOuterDisposeScope();
        }
        finally
        {
            model?.Dispose();
            table?.Dispose();
        }
    }

    private static Tensor Normalize(Tensor v) => v / v.norm(-1, keepdim: true).clamp_min(1e-8);

    private static DecoderForCausalLM LoadBase(MoeInputs inputs, Device device)
    {
        var model = CausalLmArchitectures.Create(inputs.BaseConfig, device, ScalarType.Float32);
        try
        {
            CausalLmWeights.Load(model, inputs.Base);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return model;
    }

    /// <summary>mergekit's tokenize_prompts: <c>(bos_token or "") + prompt</c>, add_special_tokens=False.</summary>
    private static List<int[]> Encode(MoeInputs inputs, HfTokenizer tokenizer, MoeExpert def, bool shared, IReadOnlyList<string> prompts, string key)
    {
        var result = new List<int[]>();
        int vocab = inputs.BaseConfig.VocabSize;
        for (int i = 0; i < prompts.Count; i++)
        {
            var ids = tokenizer.Encode((tokenizer.BosToken ?? "") + prompts[i], addSpecialTokens: false).ToArray();
            if (ids.Length == 0)
                throw new LlmMergeException($"{inputs.Recipe.FileName}: {def.Describe(shared)}: {key}[{i}] encodes to no tokens and the tokenizer has no bos_token; give it some text");
            if (ids.Any(t => t >= vocab))
                throw new LlmMergeException($"{inputs.Recipe.FileName}: {def.Describe(shared)}: {key}[{i}] has token ids beyond the base's vocab_size {vocab}; the base's tokenizer and weights do not match");
            result.Add(ids);
        }
        return result;
    }

    /// <summary>
    /// [layers, hidden]: each prompt's hidden states entering the layers at its last token (or their mean over its
    /// tokens), averaged over prompts. Prompts run together, padded on the right: under the causal mask a real token
    /// never sees the padding after it, so its states are those of the prompt alone.
    /// </summary>
    private static Tensor HiddenStates(DecoderForCausalLM model, IReadOnlyList<int[]> prompts, bool average)
    {
        const int BatchRows = 32;
        int layers = model.Config.NumHiddenLayers;
        var device = model.parameters().First().device;
        var sum = zeros([layers, model.Config.HiddenSize], ScalarType.Float64, device);
        using var noGrad = no_grad();
        foreach (var batch in prompts.Chunk(BatchRows))
        {
            using var scope = NewDisposeScope();
            int longest = batch.Max(p => p.Length);
            var ids = new long[batch.Length * longest];
            var weights = new double[batch.Length * longest];
            for (int b = 0; b < batch.Length; b++)
            {
                for (int t = 0; t < longest; t++)
                    ids[b * longest + t] = t < batch[b].Length ? batch[b][t] : batch[b][0];
                // The positions a prompt's summary reads: its last token, or each of its tokens equally.
                if (average)
                    Array.Fill(weights, 1.0 / batch[b].Length, b * longest, batch[b].Length);
                else
                    weights[b * longest + batch[b].Length - 1] = 1.0;
            }
            var input = tensor(ids, device: device).view(batch.Length, longest);
            var w = tensor(weights, device: device).view(batch.Length, longest, 1);
            using (model.Capture(new ActivationCapture
            {
                LayerInput = (layer, h) => sum[layer].add_((h.to(ScalarType.Float64) * w).sum([0L, 1L])),
            }))
            {
                // The last layer's output is not a gate input, so the pass stops before that layer.
                model.HiddenStates(input, null, store: false, stopBeforeLayer: layers - 1);
            }
        }
        return (sum / prompts.Count).to(ScalarType.Float32).cpu();
    }

    /// <summary>mergekit's get_cheap_embedding: the prompts' token embeddings summed, normalized, one row per layer.</summary>
    private static Tensor CheapEmbedding(Tensor embed, IReadOnlyList<int[]> prompts, long layers)
    {
        var ids = tensor(prompts.SelectMany(p => p).Select(t => (long)t).ToArray());
        var total = embed.index_select(0, ids).sum([0L]);
        return Normalize(total).unsqueeze(0).expand(layers, -1).contiguous();
    }

    /// <summary>
    /// mergekit's warn_degenerate_gates: layers whose gate matrix has a condition number above 5 route some
    /// experts rarely; the warning names them.
    /// </summary>
    public static string? Degenerate(Tensor gates, double threshold = 5.0)
    {
        var bad = new List<long>();
        for (long l = 0; l < gates.shape[0]; l++)
        {
            using var scope = NewDisposeScope();
            var s = linalg.svdvals(gates[l].to(ScalarType.Float64));
            double cond = s.max().item<double>() / s.min().item<double>();
            if (cond > threshold)
                bad.Add(l);
        }
        if (bad.Count == 0)
            return null;
        string which = bad.Count == 1 ? $"layer {bad[0]} has"
            : bad.Count >= gates.shape[0] ? "ALL layers have"
            : bad.Count == 2 ? $"layers {bad[0]} and {bad[1]} have"
            : $"layers {string.Join(", ", bad.Take(bad.Count - 1))}, and {bad[^1]} have";
        return $"{which} degenerate routing parameters - your prompts may be too similar; one or more experts will be underutilized";
    }
}
