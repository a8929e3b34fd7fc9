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
    /// <summary>
    /// The hidden state entering each of <paramref name="layers"/> (0 .. num_hidden_layers - 1) for one prompt, pooled
    /// over its positions: one vector per requested layer, in the order given. The pass stops before the deepest one.
    /// </summary>
    public static double[][] Pooled(DecoderForCausalLM model, IReadOnlyList<int> ids, IReadOnlyList<int> layers, PromptPooling pooling)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (ids.Count == 0)
            throw new ArgumentException("a prompt needs at least one token", nameof(ids));
        if (ids.Count > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"the prompt ({ids.Count} tokens) is longer than the model's {model.Config.MaxPositionEmbeddings} positions; cut it first", nameof(ids));
        if (layers.Count == 0)
            throw new ArgumentException("ask for at least one layer", nameof(layers));
        foreach (int l in layers)
        {
            if (l < 0 || l >= model.Config.NumHiddenLayers)
                throw new ArgumentOutOfRangeException(nameof(layers), l, $"the model has layers 0 .. {model.Config.NumHiddenLayers - 1}");
        }

        var wanted = layers.ToHashSet();
        var pooled = new Dictionary<int, double[]>();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = model.parameters().First().device;
        var input = tensor(ids.Select(t => (long)t).ToArray(), device: device).view(1, ids.Count);
        using (model.Capture(new ActivationCapture
        {
            LayerInput = (i, h) =>
            {
                if (wanted.Contains(i))
                    pooled[i] = Pool(h, pooling);
            },
        }))
        {
            model.HiddenStates(input, null, store: false, stopBeforeLayer: layers.Max());
        }
        return layers.Select(l => pooled[l]).ToArray();
    }

    /// <summary>mergekit's get_hidden_states over several prompts: the mean of their pooled vectors, per layer.</summary>
    public static double[][] MeanPooled(DecoderForCausalLM model, IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<int> layers, PromptPooling pooling)
    {
        if (prompts.Count == 0)
            throw new ArgumentException("give at least one prompt", nameof(prompts));
        double[][]? sum = null;
        foreach (var ids in prompts)
        {
            var p = Pooled(model, ids, layers, pooling);
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

    private static double[] Pool(Tensor h, PromptPooling pooling)
    {
        // h: [1, seq, hidden] in the model's dtype; pooled in float64 so the mean does not depend on the compute dtype's rounding.
        var states = h[0].to(ScalarType.Float64);
        var v = pooling == PromptPooling.Mean ? states.mean([0]) : states[-1];
        return v.cpu().data<double>().ToArray();
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
