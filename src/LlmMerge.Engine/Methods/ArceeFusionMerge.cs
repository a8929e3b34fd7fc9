using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// mergekit's Arcee Fusion: takes the other model's value only where its importance, |model - base| times the
/// KL divergence of the rows' softmaxes, reaches the dynamic threshold median + 1.5 IQR; elsewhere keeps the base.
/// </summary>
public sealed class ArceeFusionMerge : IMergeMethod
{
    // mergekit estimates the quantiles from at most this many entries, drawn uniformly with replacement.
    internal const long QuantileSampleSize = 1_000_000;

    private const double SoftmaxEps = 1e-8;

    public string Name => "arcee_fusion";

    public string PrettyName => "Arcee Fusion";

    public string? ReferenceUrl => "https://arcee.ai";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } = [];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [];

    public bool RequiresBaseModel => true;

    public void ValidateModelCount(int models, bool hasBase)
    {
        if (models != 2)
            throw new LlmMergeException($"merge method 'arcee_fusion' takes exactly two models, the base_model and one other (the recipe gives {models})");
    }

    public Tensor Merge(MergeInputs inputs)
    {
        if (inputs.Tensors.Count == 1)
            return inputs.Tensors[0].Tensor.alias();
        var baseInput = inputs.Base ?? throw new LlmMergeException($"arcee_fusion: base_model is not among the inputs of tensor '{inputs.TensorName}'");
        if (inputs.Tensors.Count != 2)
            throw new LlmMergeException($"arcee_fusion: tensor '{inputs.TensorName}' has {inputs.Tensors.Count} inputs; arcee_fusion takes exactly two, the base_model and one other");
        var b = baseInput.Tensor;
        var p = inputs.Tensors.First(m => m != baseInput).Tensor;

        using var scope = NewDisposeScope();
        var importance = Importance(p, b);
        var threshold = Threshold(importance, inputs.Random);
        var mask = importance.ge(threshold).to(b.dtype);
        return b.add(p.sub(b).mul(mask)).MoveToOuterDisposeScope();
    }

    /// <summary>|p - b| times, per vector along the last dimension, KL(softmax(p) || softmax(b)) with 1e-8 added to both.</summary>
    public static Tensor Importance(Tensor p, Tensor b)
    {
        using var scope = NewDisposeScope();
        var diff = p.sub(b).abs();
        var sp = p.softmax(-1).add(SoftmaxEps);
        var sb = b.softmax(-1).add(SoftmaxEps);
        // A 1-D tensor (a norm's weight) is one vector, so its importance is |p - b| times one number.
        var kl = sp.mul(sp.div(sb).log()).sum(-1);
        return diff.mul(kl.unsqueeze(-1)).MoveToOuterDisposeScope();
    }

    /// <summary>median + 1.5 (q3 - q1) of the scores, each quantile the sorted entry at floor(q (n - 1)), as mergekit takes it.</summary>
    public static Tensor Threshold(Tensor scores, TorchSharp.torch.Generator random)
    {
        using var scope = NewDisposeScope();
        var flat = scores.reshape(-1);
        long n = flat.numel();
        // mergekit samples large tensors from torch's global generator, so its thresholds there are not
        // reproducible; ours draw from the tensor's own seeded stream.
        if (n > QuantileSampleSize)
            flat = flat.index_select(0, randint(n, [QuantileSampleSize], generator: random, dtype: ScalarType.Int64, device: flat.device));
        var sorted = flat.sort().Values;
        long last = sorted.numel() - 1;
        // No interpolation between entries: mergekit truncates q (n - 1) to an index (exact in float32 for these q).
        var q1 = sorted[(long)Math.Floor(0.25 * last)];
        var median = sorted[(long)Math.Floor(0.5 * last)];
        var q3 = sorted[(long)Math.Floor(0.75 * last)];
        // A Tukey-style fence, but from the median rather than from q3: mergekit's choice.
        return median.add(q3.sub(q1).mul(1.5)).MoveToOuterDisposeScope();
    }
}
