using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// y = x Wᵀ + b with Hugging Face's parameter names (<c>weight</c> [out, in], <c>bias</c>). Unlike nn.Linear it
/// allocates its weights uninitialised: a loaded model overwrites them at once, and a training run calls
/// <see cref="DecoderForCausalLM.InitializeWeights"/>, so a random init here would only cost time.
/// </summary>
public sealed class LinearProjection : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;

    public LinearProjection(long inFeatures, long outFeatures, bool hasBias, Device device, ScalarType dtype)
        : base(nameof(LinearProjection))
    {
        weight = new Parameter(empty([outFeatures, inFeatures], dtype, device));
        register_parameter(nameof(weight), weight);
        if (hasBias)
        {
            bias = new Parameter(empty([outFeatures], dtype, device));
            register_parameter(nameof(bias), bias);
        }
    }

    // A low-rank adapter being trained (PEFT's LoRA): y = x Wᵀ + b + scale · (x Aᵀ) Bᵀ. Not registered as
    // parameters, so named_parameters() keeps listing exactly a checkpoint's tensors while one is attached.
    private Parameter? _loraA;
    private Parameter? _loraB;
    private double _loraScale;

    public Tensor Weight => weight;

    /// <summary>The module's name in the model (<c>model.layers.0.self_attn.q_proj</c>), set once the model is built.</summary>
    public string QualifiedName { get; internal set; } = "";

    /// <summary>Set while a caller captures projection inputs.</summary>
    internal ActivationCapture? Capture { get; set; }

    public Tensor? Bias => bias;

    /// <summary>
    /// Arrow routing over several LoRA adapters of this projection (<see cref="Routing.ArrowLora"/>): its update is added
    /// to the output, token by token. The projection owns it once set and disposes it with itself.
    /// </summary>
    public Routing.ArrowLora? Arrow { get; set; }

    /// <summary>LoRA's A [rank, in] while an adapter is attached.</summary>
    public Tensor? LoraA => _loraA;

    /// <summary>LoRA's B [out, rank] while an adapter is attached.</summary>
    public Tensor? LoraB => _loraB;

    /// <summary>The attached adapter's factors, for an optimizer; empty when none is attached.</summary>
    public IEnumerable<Parameter> LoraParameters => _loraA is null ? [] : [_loraA, _loraB!];

    /// <summary>
    /// Attaches a trainable adapter initialised as PEFT does (A Kaiming-uniform with a = √5, B zero), so the layer's
    /// output is unchanged until training moves B.
    /// </summary>
    public void AttachLora(int rank, double scale, Generator generator)
    {
        long inFeatures = weight.shape[1], outFeatures = weight.shape[0];
        // kaiming_uniform_(a=√5) on [rank, in]: bound = √(6 / ((1 + a²) · fan_in)) = 1 / √fan_in.
        double bound = 1.0 / Math.Sqrt(inFeatures);
        _loraA = new Parameter(rand([rank, inFeatures], weight.dtype, weight.device, generator: generator).mul_(2 * bound).sub_(bound));
        _loraB = new Parameter(zeros([outFeatures, rank], weight.dtype, weight.device));
        _loraScale = scale;
    }

    /// <summary>Removes the adapter (its factors are disposed); the base weight is untouched.</summary>
    public void DetachLora()
    {
        _loraA?.Dispose();
        _loraB?.Dispose();
        _loraA = _loraB = null;
    }

    public override Tensor forward(Tensor input)
    {
        if (Capture is { } capture && capture.WantsProjection(QualifiedName))
            capture.ProjectionInput!(QualifiedName, input);
        var y = nn.functional.linear(input, weight, bias);
        if (Arrow is { } arrow)
            y = y.add(arrow.Delta(input));
        return _loraA is null ? y : y.add(nn.functional.linear(nn.functional.linear(input, _loraA), _loraB!).mul(_loraScale));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Arrow?.Dispose();
            Arrow = null;
        }
        base.Dispose(disposing);
    }
}
