using static TorchSharp.torch;

namespace LlmMerge.Modeling.Routing;

/// <summary>
/// Arrow routing inside one linear projection (PEFT's ArrowLoraLinearLayer.forward, src/peft/tuners/lora/arrow.py at
/// 5d602fdb): each token's input x scores every adapter by |x·vₑ| against its unit prototype vₑ (|cosine| times ‖x‖, the
/// same order as |cosine|), keeps the top k, takes softmax(score / temperature) over those (the others weigh 0), and adds
/// Σₑ coeffₑ · scaleₑ · B_e·A_e·x to the base projection's output. Adapters may differ in rank. Owns its tensors.
/// </summary>
public sealed class ArrowLora : IDisposable
{
    private readonly Tensor _prototypes;
    private readonly Tensor[] _a;
    private readonly Tensor[] _b;
    private readonly double[] _scales;

    /// <param name="prototypes">[E, in], one unit row per adapter.</param>
    /// <param name="a">Each adapter's lora_A [r, in].</param>
    /// <param name="b">Each adapter's lora_B [out, r].</param>
    /// <param name="scales">Each adapter's lora_alpha / r (or / √r with rsLoRA).</param>
    /// <param name="topK">Adapters kept per token (capped at E).</param>
    /// <param name="temperature">Softmax temperature, above 0.</param>
    public ArrowLora(Tensor prototypes, IReadOnlyList<Tensor> a, IReadOnlyList<Tensor> b, IReadOnlyList<double> scales, int topK, double temperature)
    {
        ArgumentNullException.ThrowIfNull(prototypes);
        int experts = (int)prototypes.shape[0];
        if (a.Count != experts || b.Count != experts || scales.Count != experts)
            throw new ArgumentException($"{experts} prototypes need as many lora_A, lora_B and scales (got {a.Count}, {b.Count}, {scales.Count})");
        if (topK < 1)
            throw new ArgumentOutOfRangeException(nameof(topK), topK, "Arrow keeps at least one adapter per token");
        if (!(temperature > 0))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "the router temperature must be above 0");
        _prototypes = prototypes.DetachFromDisposeScope();
        _a = a.Select(t => t.DetachFromDisposeScope()).ToArray();
        _b = b.Select(t => t.DetachFromDisposeScope()).ToArray();
        _scales = scales.ToArray();
        TopK = Math.Min(topK, experts);
        Temperature = temperature;
    }

    public int TopK { get; }

    public double Temperature { get; }

    public int Experts => _a.Length;

    /// <summary>The routing coefficients [tokens, E] for inputs [..., in] (rows sum to 1; zero outside each token's top k).</summary>
    public Tensor Coefficients(Tensor input)
    {
        using var scope = NewDisposeScope();
        long inFeatures = _prototypes.shape[1];
        var tok = input.reshape(-1, inFeatures).to(_prototypes.dtype);
        var sim = tok.matmul(_prototypes.t()).abs();
        var (top, index) = sim.topk(TopK, dim: 1);
        var full = full_like(sim, double.NegativeInfinity).scatter(1, index, top);
        return full.div(Temperature).softmax(1).MoveToOuterDisposeScope();
    }

    /// <summary>The Arrow update for inputs [..., in]: [..., out], in the inputs' dtype.</summary>
    public Tensor Delta(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        long inFeatures = _prototypes.shape[1];
        var tok = input.reshape(-1, inFeatures).to(_prototypes.dtype);
        var coeff = Coefficients(tok);
        Tensor? delta = null;
        for (int e = 0; e < _a.Length; e++)
        {
            var y = tok.matmul(_a[e].t()).matmul(_b[e].t()).mul(coeff.narrow(1, e, 1)).mul(_scales[e]);
            delta = delta is null ? y : delta.add_(y);
        }
        long[] shape = [.. input.shape[..^1], _b[0].shape[0]];
        return delta!.to(input.dtype).reshape(shape).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _prototypes.Dispose();
        foreach (var t in _a) t.Dispose();
        foreach (var t in _b) t.Dispose();
    }
}
