using static TorchSharp.torch;

namespace LlmMerge.Modeling.Routing;

/// <summary>
/// Gate vectors from prompts, as mergekit-moe computes them (mergekit/moe/router.py at a6e40288): each prompt runs
/// through the base alone; the hidden state entering a layer (transformers' <c>hidden_states[:-1]</c>) is pooled over
/// the prompt (last token, or mean); an expert's vector is the mean over its positive prompts minus the mean over its
/// negative ones, divided by its L2 norm (clamped at 1e-8); <c>cheap_embed</c> sums raw token embeddings instead.
/// Shared by routers (one layer) and mixtures of experts (every layer). Token ids come from the caller, encoded as
/// mergekit's tokenize_prompts does: the tokenizer's BOS text before the prompt, no other special tokens.
/// <para>
/// Where this differs from mergekit, on purpose: mergekit runs an expert's prompts as one left-padded batch (pad = BOS)
/// with no position ids, so its last-token states equal these (rotary attention depends only on relative positions)
/// but its means also count the padding positions; here a mean is over the prompt's own tokens. mergekit loads the
/// base in bfloat16; here it runs in whatever dtype the caller loaded it in.
/// </para>
/// </summary>
public static class PromptPrototypes
{
    /// <summary>Prompts run together in one pass, at most (padding on the right, which a causal model never reads).</summary>
    public const int BatchSize = 32;

    /// <summary>
    /// The hidden state entering each of <paramref name="layers"/> (0 .. num_hidden_layers - 1) for one prompt, pooled
    /// over its positions: one vector per requested layer, in the order given. The pass stops before the deepest one.
    /// </summary>
    public static double[][] Pooled(DecoderForCausalLM model, IReadOnlyList<int> ids, IReadOnlyList<int> layers, PromptPooling pooling) =>
        Pooled(model, [ids], layers, pooling)[0];

    /// <summary>
    /// <see cref="Pooled(DecoderForCausalLM, IReadOnlyList{int}, IReadOnlyList{int}, PromptPooling)"/> for many prompts:
    /// [prompt][layer] vectors. Prompts run in right-padded batches of up to <see cref="BatchSize"/>, grouped by length;
    /// under the causal mask a real token never sees the padding after it, so each result is the prompt's alone.
    /// </summary>
    public static double[][][] Pooled(DecoderForCausalLM model, IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<int> layers, PromptPooling pooling)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (layers.Count == 0)
            throw new ArgumentException("ask for at least one layer", nameof(layers));
        foreach (int l in layers)
        {
            if (l < 0 || l >= model.Config.NumHiddenLayers)
                throw new ArgumentOutOfRangeException(nameof(layers), l, $"the model has layers 0 .. {model.Config.NumHiddenLayers - 1}");
        }
        for (int p = 0; p < prompts.Count; p++)
        {
            if (prompts[p].Count == 0)
                throw new ArgumentException($"prompt {p} has no tokens; a prompt needs at least one", nameof(prompts));
            if (prompts[p].Count > model.Config.MaxPositionEmbeddings)
                throw new ArgumentException($"prompt {p} ({prompts[p].Count} tokens) is longer than the model's {model.Config.MaxPositionEmbeddings} positions; cut it first", nameof(prompts));
        }

        var result = new double[prompts.Count][][];
        var order = Enumerable.Range(0, prompts.Count).OrderBy(p => prompts[p].Count).ToList();
        var wanted = layers.ToHashSet();
        var device = model.parameters().First().device;
        using var noGrad = no_grad();
        foreach (var batch in order.Chunk(BatchSize))
        {
            using var scope = NewDisposeScope();
            int width = batch.Max(p => prompts[p].Count);
            var flat = new long[batch.Length * width];
            for (int b = 0; b < batch.Length; b++)
            {
                var ids = prompts[batch[b]];
                for (int t = 0; t < width; t++)
                    flat[b * width + t] = ids[Math.Min(t, ids.Count - 1)]; // padding repeats the last token; it is never read
            }
            var pooled = new Dictionary<int, double[][]>();
            using (model.Capture(new ActivationCapture
            {
                LayerInput = (i, h) =>
                {
                    if (wanted.Contains(i))
                        pooled[i] = Pool(h, batch.Select(p => prompts[p].Count).ToArray(), pooling);
                },
            }))
            {
                model.HiddenStates(tensor(flat, device: device).view(batch.Length, width), null, store: false, stopBeforeLayer: layers.Max());
            }
            for (int b = 0; b < batch.Length; b++)
                result[batch[b]] = layers.Select(l => pooled[l][b]).ToArray();
        }
        return result;
    }

    /// <summary>mergekit's get_hidden_states over several prompts: the mean of their pooled vectors, per layer.</summary>
    public static double[][] MeanPooled(DecoderForCausalLM model, IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<int> layers, PromptPooling pooling)
    {
        if (prompts.Count == 0)
            throw new ArgumentException("give at least one prompt", nameof(prompts));
        double[][]? sum = null;
        foreach (var p in Pooled(model, prompts, layers, pooling))
        {
            if (sum is null)
                sum = p;
            else
                for (int l = 0; l < p.Length; l++) Add(sum[l], p[l], 1);
        }
        foreach (var v in sum!) Scale(v, 1.0 / prompts.Count);
        return sum;
    }

    /// <summary>One expert's gate vector per layer: normalize(mean(positive) − mean(negative)); no negatives subtract nothing.</summary>
    public static double[][] GateVectors(DecoderForCausalLM model, IReadOnlyList<IReadOnlyList<int>> positive, IReadOnlyList<IReadOnlyList<int>> negative,
        IReadOnlyList<int> layers, PromptPooling pooling)
    {
        var h = MeanPooled(model, positive, layers, pooling);
        if (negative.Count > 0)
        {
            var n = MeanPooled(model, negative, layers, pooling);
            for (int l = 0; l < h.Length; l++) Add(h[l], n[l], -1);
        }
        foreach (var v in h) Normalize(v);
        return h;
    }

    /// <summary>
    /// mergekit's get_cheap_embedding: the raw embedding rows (no Gemma scaling) of every token of every prompt, summed,
    /// divided by the norm (clamped at 1e-8). The same vector serves every layer.
    /// </summary>
    public static double[] CheapEmbedding(DecoderForCausalLM model, IReadOnlyList<IReadOnlyList<int>> prompts)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var weight = model.Model.EmbedTokens.Weight;
        var ids = prompts.SelectMany(p => p).Select(t => (long)t).ToArray();
        if (ids.Length == 0)
            throw new ArgumentException("give at least one token", nameof(prompts));
        var rows = weight.index_select(0, tensor(ids, device: weight.device)).to(ScalarType.Float64).sum([0L]);
        var v = rows.cpu().data<double>().ToArray();
        Normalize(v);
        return v;
    }

    /// <summary>An expert's cheap_embed gate: its positive prompts' embedding, minus its negative prompts' (each normalized), normalized again.</summary>
    public static double[] CheapGateVector(DecoderForCausalLM model, IReadOnlyList<IReadOnlyList<int>> positive, IReadOnlyList<IReadOnlyList<int>> negative)
    {
        var v = CheapEmbedding(model, positive);
        if (negative.Count > 0)
            Add(v, CheapEmbedding(model, negative), -1);
        Normalize(v);
        return v;
    }

    /// <summary>Cosine similarity of two vectors (0 where either is zero).</summary>
    public static double Cosine(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"vectors of {a.Length} and {b.Length} entries cannot be compared");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    // h: [batch, width, hidden] in the model's dtype; each row pooled over its own tokens, in float64, so a mean does
    // not depend on the compute dtype's rounding.
    private static double[][] Pool(Tensor h, int[] lengths, PromptPooling pooling)
    {
        var states = h.to(ScalarType.Float64).cpu();
        var rows = new double[lengths.Length][];
        for (int b = 0; b < lengths.Length; b++)
        {
            var own = states[b].narrow(0, 0, lengths[b]);
            var v = pooling == PromptPooling.Mean ? own.mean([0]) : own[lengths[b] - 1];
            rows[b] = v.data<double>().ToArray();
        }
        return rows;
    }

    private static void Add(double[] into, double[] x, double factor)
    {
        for (int i = 0; i < into.Length; i++) into[i] += factor * x[i];
    }

    private static void Scale(double[] v, double factor)
    {
        for (int i = 0; i < v.Length; i++) v[i] *= factor;
    }

    private static void Normalize(double[] v)
    {
        double norm = Math.Sqrt(v.Sum(x => x * x));
        Scale(v, 1.0 / Math.Max(norm, 1e-8));
    }
}
