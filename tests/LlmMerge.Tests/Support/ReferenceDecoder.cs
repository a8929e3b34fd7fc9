namespace LlmMerge.Tests.Support;

/// <summary>
/// The Llama-family forward pass written out in plain double loops, independent of TorchSharp and of the code under
/// test: embedding, RMSNorm, rotary embedding (rotate_half), grouped-query causal attention, SwiGLU, logits,
/// log-softmax. Slow, and meant for a few dozen tokens.
/// </summary>
public sealed class ReferenceDecoder(TinyDecoder model)
{
    private readonly TinyDecoderShape _s = model.Shape;

    /// <summary>When set, gets each linear projection's module name and input vector, position by position (RegMean's Gram matrices).</summary>
    public Action<string, double[]>? ProjectionInput { get; set; }

    private double[] W(string name) => model.Weights[name].Values.Select(v => (double)v).ToArray();

    private double[]? B(string name) => model.Weights.TryGetValue(name, out var w) ? w.Values.Select(v => (double)v).ToArray() : null;

    /// <summary>
    /// The hidden state entering each layer, [layer][position][hidden], for layers 0..L: entry L is what leaves the
    /// last layer, before the final norm (transformers' hidden_states but for that norm).
    /// </summary>
    public double[][][] LayerInputs(IReadOnlyList<int> tokens) => Run(tokens, null);

    /// <summary>What each layer's MLP (or mixture) reads, [layer][position][hidden]: the post-attention-normed state.</summary>
    public double[][][] MlpInputs(IReadOnlyList<int> tokens)
    {
        var inputs = new List<double[][]>();
        Run(tokens, inputs);
        return inputs.ToArray();
    }

    private double[][][] Run(IReadOnlyList<int> tokens, List<double[][]>? mlpInputs)
    {
        int n = tokens.Count, d = _s.Hidden;
        var x = new double[n][];
        var emb = W("model.embed_tokens.weight");
        for (int t = 0; t < n; t++)
            x[t] = emb.AsSpan(tokens[t] * d, d).ToArray().Select(e => _s.IsGemma ? e * Math.Sqrt(d) : e).ToArray();
        var states = new List<double[][]> { x.Select(v => v.ToArray()).ToArray() };

        for (int layer = 0; layer < _s.Layers; layer++)
        {
            string p = $"model.layers.{layer}.";
            var normed = x.Select(v => RmsNorm(v, W(p + "input_layernorm.weight"))).ToArray();
            var attn = Attention(normed, p, layer);
            for (int t = 0; t < n; t++)
                x[t] = Add(x[t], attn[t]);
            var normed2 = x.Select(v => RmsNorm(v, W(p + "post_attention_layernorm.weight"))).ToArray();
            mlpInputs?.Add(normed2);
            for (int t = 0; t < n; t++)
                x[t] = Add(x[t], _s.IsSparse(layer) ? Mixture(p, normed2[t]) : Mlp(p + "mlp.", "gate_proj", "up_proj", "down_proj", normed2[t]));
            states.Add(x.Select(v => v.ToArray()).ToArray());
        }
        return states.ToArray();
    }

    /// <summary>The experts each layer's router picks for one normed hidden state, by the same top-k as the mixture.</summary>
    public int[] RoutedExperts(string prefix, double[] normed) => Route(prefix, normed).Select(r => r.Expert).ToArray();

    private double[] Mlp(string prefix, string gate, string up, string down, double[] x)
    {
        int width = (int)model.Weights[prefix + gate + ".weight"].Shape[0];
        var g = Project(prefix + gate, x, width);
        var u = Project(prefix + up, x, g.Length);
        var act = g.Select((v, i) => Activation(v) * u[i]).ToArray();
        return Project(prefix + down, act, _s.Hidden);
    }

    // Router probabilities by softmax, the k largest (ties broken towards the lower expert), renormalized as the
    // architecture says.
    private (int Expert, double Weight)[] Route(string p, double[] x)
    {
        string block = _s.IsMixtral ? "block_sparse_moe." : "mlp.";
        var logits = MatVec(W(p + block + "gate.weight"), null, x, _s.Experts);
        double max = logits.Max();
        var e = logits.Select(l => Math.Exp(l - max)).ToArray();
        double total = e.Sum();
        var top = e.Select((v, i) => (Expert: i, Weight: v / total)).OrderByDescending(r => r.Weight).ThenBy(r => r.Expert).Take(_s.TopK).ToArray();
        if (_s.IsMixtral || _s.NormTopK)
        {
            double kept = top.Sum(r => r.Weight);
            top = top.Select(r => (r.Expert, r.Weight / kept)).ToArray();
        }
        return top;
    }

    // Mixtral's and Qwen2-MoE's sparse block written out: the routed experts' outputs weighted and summed, plus
    // Qwen2-MoE's shared expert scaled by the sigmoid of its gate.
    private double[] Mixture(string p, double[] x)
    {
        string block = _s.IsMixtral ? "block_sparse_moe." : "mlp.";
        var (gate, up, down) = _s.IsMixtral ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");
        var y = new double[_s.Hidden];
        foreach (var (expert, weight) in Route(p, x))
        {
            var o = Mlp($"{p}{block}experts.{expert}.", gate, up, down, x);
            for (int i = 0; i < y.Length; i++)
                y[i] += weight * o[i];
        }
        if (_s.IsQwen2Moe)
        {
            var shared = Mlp(p + "mlp.shared_expert.", "gate_proj", "up_proj", "down_proj", x);
            double g = MatVec(W(p + "mlp.shared_expert_gate.weight"), null, x, 1)[0];
            double s = 1 / (1 + Math.Exp(-g));
            for (int i = 0; i < y.Length; i++)
                y[i] += s * shared[i];
        }
        return y;
    }

    /// <summary>RMSNorm of one vector with the named weight, as the model applies it (Gemma's 1 + weight included).</summary>
    public double[] Norm(double[] x, string weightName) => RmsNorm(x, W(weightName));

    /// <summary>log p(token | tokens before it) for every position: [position][vocab].</summary>
    public double[][] LogProbs(IReadOnlyList<int> tokens)
    {
        int n = tokens.Count;
        var emb = W("model.embed_tokens.weight");
        var x = LayerInputs(tokens)[^1];

        var head = _s.Tied ? emb : W("lm_head.weight");
        var result = new double[n][];
        for (int t = 0; t < n; t++)
        {
            var input = RmsNorm(x[t], W("model.norm.weight"));
            if (!_s.Tied)
                ProjectionInput?.Invoke("lm_head", input);
            var logits = MatVec(head, null, input, _s.Vocab);
            double max = logits.Max();
            double lse = max + Math.Log(logits.Sum(l => Math.Exp(l - max)));
            result[t] = logits.Select(l => l - lse).ToArray();
        }
        return result;
    }

    /// <summary>Sum of log-probabilities of <paramref name="continuation"/>'s tokens after <paramref name="context"/>.</summary>
    public double LogLikelihood(IReadOnlyList<int> context, IReadOnlyList<int> continuation)
    {
        var all = context.Concat(continuation).ToArray();
        var lp = LogProbs(all);
        double sum = 0;
        for (int k = 0; k < continuation.Count; k++)
            sum += lp[context.Count + k - 1][continuation[k]];
        return sum;
    }

    private double[][] Attention(double[][] h, string p, int layer)
    {
        int n = h.Length, hd = _s.HeadDim, heads = _s.Heads, kvHeads = _s.KvHeads;
        var q = h.Select(v => Project(p + "self_attn.q_proj", v, heads * hd)).ToArray();
        var k = h.Select(v => Project(p + "self_attn.k_proj", v, kvHeads * hd)).ToArray();
        var v = h.Select(v => Project(p + "self_attn.v_proj", v, kvHeads * hd)).ToArray();
        var inv = InverseFrequencies();
        for (int t = 0; t < n; t++)
        {
            for (int head = 0; head < heads; head++)
                Rotate(q[t], head * hd, t, inv);
            for (int head = 0; head < kvHeads; head++)
                Rotate(k[t], head * hd, t, inv);
        }
        int group = heads / kvHeads;
        var output = new double[n][];
        for (int t = 0; t < n; t++)
        {
            var o = new double[heads * hd];
            for (int head = 0; head < heads; head++)
            {
                int kvh = head / group;
                var scores = new double[t + 1];
                for (int j = 0; j <= t; j++)
                {
                    bool visible = _s.SlidingWindow is not int w || t - j < w;
                    double dot = 0;
                    for (int e = 0; e < hd; e++)
                        dot += q[t][head * hd + e] * k[j][kvh * hd + e];
                    scores[j] = visible ? dot / Math.Sqrt(hd) : double.NegativeInfinity;
                }
                double max = scores.Max();
                var weights = scores.Select(s => Math.Exp(s - max)).ToArray();
                double total = weights.Sum();
                for (int j = 0; j <= t; j++)
                {
                    for (int e = 0; e < hd; e++)
                        o[head * hd + e] += weights[j] / total * v[j][kvh * hd + e];
                }
            }
            output[t] = Project(p + "self_attn.o_proj", o, _s.Hidden);
        }
        return output;
    }

    // rotate_half: element i pairs with element i + d/2 of the same head.
    private void Rotate(double[] vec, int offset, int position, double[] inv)
    {
        int half = _s.HeadDim / 2;
        for (int i = 0; i < half; i++)
        {
            double a = vec[offset + i], b = vec[offset + i + half];
            double angle = position * inv[i];
            vec[offset + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
            vec[offset + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
        }
    }

    private double[] InverseFrequencies()
    {
        int half = _s.HeadDim / 2;
        var inv = Enumerable.Range(0, half).Select(i => Math.Pow(_s.Theta, -2.0 * i / _s.HeadDim)).ToArray();
        var rs = _s.RopeScaling;
        string type = rs is null ? "default" : (string)(rs["rope_type"] ?? rs["type"])!;
        if (type == "linear")
            return inv.Select(f => f / (double)rs!["factor"]!).ToArray();
        if (type != "llama3")
            return inv;
        double factor = (double)rs!["factor"]!, low = (double)rs["low_freq_factor"]!, high = (double)rs["high_freq_factor"]!;
        double original = (double)rs["original_max_position_embeddings"]!;
        return inv.Select(f =>
        {
            double wavelen = 2 * Math.PI / f;
            if (wavelen < original / high)
                return f;
            if (wavelen > original / low)
                return f / factor;
            double smooth = (original / wavelen - low) / (high - low);
            return (1 - smooth) * f / factor + smooth * f;
        }).ToArray();
    }

    // silu for the Llama family; Gemma's gelu with the tanh approximation.
    private double Activation(double g) =>
        _s.IsGemma ? 0.5 * g * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (g + 0.044715 * g * g * g))) : g / (1 + Math.Exp(-g));

    private double[] RmsNorm(double[] x, double[] weight)
    {
        double ms = x.Sum(e => e * e) / x.Length;
        double scale = 1 / Math.Sqrt(ms + _s.Eps);
        return x.Select((e, i) => e * scale * (_s.IsGemma ? 1 + weight[i] : weight[i])).ToArray();
    }

    private double[] Project(string module, double[] x, int rows)
    {
        ProjectionInput?.Invoke(module, x);
        return MatVec(W(module + ".weight"), B(module + ".bias"), x, rows);
    }

    private static double[] MatVec(double[] w, double[]? bias, double[] x, int rows)
    {
        int cols = x.Length;
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double acc = bias?[r] ?? 0;
            for (int c = 0; c < cols; c++)
                acc += w[r * cols + c] * x[c];
            y[r] = acc;
        }
        return y;
    }

    private static double[] Add(double[] a, double[] b) => a.Select((e, i) => e + b[i]).ToArray();
}
