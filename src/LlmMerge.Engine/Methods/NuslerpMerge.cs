using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// mergekit's NuSLERP: spherical interpolation of exactly two models at t = w1 / (w0 + w1), whole tensors
/// (<c>nuslerp_flatten</c>, default) or vector by vector; with a <c>base_model</c> it interpolates the two task
/// vectors (model - base) and adds the base back.
/// </summary>
public sealed class NuslerpMerge : IMergeMethod
{
    // mergekit's thresholds: norms are clamped at 1e-7 before dividing, and only |sin theta| < 1e-8 counts as
    // colinear (far tighter than slerp's |cos| > 0.9995).
    private const double NormClamp = 1e-7;
    private const double ColinearSin = 1e-8;

    public string Name => "nuslerp";

    public string PrettyName => "NuSLERP";

    // mergekit gives nuslerp no reference URL.
    public string? ReferenceUrl => null;

    public IReadOnlyList<ParameterDefinition> Parameters { get; } =
    [
        new("nuslerp_row_wise", Default: false),
        new("nuslerp_flatten", Default: true),
    ];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [new("weight", Required: true)];

    public bool RequiresBaseModel => false;

    public void ValidateModelCount(int models, bool hasBase)
    {
        int others = hasBase ? models - 1 : models;
        if (others != 2)
        {
            throw new LlmMergeException(hasBase
                ? $"merge method 'nuslerp' takes exactly two models besides the base_model (the recipe gives {others} besides the base_model)"
                : $"merge method 'nuslerp' takes exactly two models, plus an optional base_model (the recipe gives {models})");
        }
    }

    public Tensor Merge(MergeInputs inputs)
    {
        if (inputs.Tensors.Count == 1)
            return inputs.Tensors[0].Tensor.alias();
        ModelTensor? baseInput = null;
        if (inputs.BaseModel is not null)
            baseInput = inputs.Base ?? throw new LlmMergeException($"nuslerp: base_model '{inputs.BaseModel}' is not among the inputs of tensor '{inputs.TensorName}'");
        var pair = inputs.Tensors.Where(m => m != baseInput).ToList();
        if (pair.Count != 2)
            throw new LlmMergeException($"nuslerp: tensor '{inputs.TensorName}' has {pair.Count} models besides the base_model; nuslerp takes exactly two");

        double w0 = pair[0].Number("weight"), w1 = pair[1].Number("weight");
        double sum = w0 + w1;
        // mergekit's guard against weights that cancel: an arbitrary midpoint rather than a division by ~0.
        double t = Math.Abs(sum) < 1e-6 ? 0.5 : w1 / sum;
        bool rowWise = inputs.Flag("nuslerp_row_wise");
        bool flatten = inputs.Flag("nuslerp_flatten");

        using var scope = NewDisposeScope();
        if (baseInput is null)
            return Interpolate(t, pair[0].Tensor, pair[1].Tensor, rowWise, flatten).MoveToOuterDisposeScope();
        var b = baseInput.Tensor;
        var d = Interpolate(t, pair[0].Tensor.sub(b), pair[1].Tensor.sub(b), rowWise, flatten);
        return b.add(d).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// mergekit's <c>nuslerp</c> function, computed in the inputs' dtype as mergekit does: slerp of the flattened
    /// tensors, or of each vector along the last dimension (<paramref name="rowWise"/> false) or along dimension 0
    /// (true), with linear interpolation where sin(theta) is below 1e-8.
    /// </summary>
    public static Tensor Interpolate(double t, Tensor v0, Tensor v1, bool rowWise, bool flatten)
    {
        using var scope = NewDisposeScope();
        var shape = v0.shape;
        // mergekit passes dim=0 for row_wise and swaps it to the last axis, so with nuslerp_row_wise: true each
        // vector is a column of a 2-D weight and with false each is a row: the reverse of what the name (and
        // mergekit's docs) suggest. We match the code.
        bool transposed = !flatten && rowWise && v0.dim() > 1;
        Tensor a = flatten ? v0.reshape(-1) : transposed ? v0.transpose(0, -1) : v0;
        Tensor b = flatten ? v1.reshape(-1) : transposed ? v1.transpose(0, -1) : v1;

        var au = a.div(a.norm(-1, keepdim: true).clamp_min(NormClamp));
        var bu = b.div(b.norm(-1, keepdim: true).clamp_min(NormClamp));
        var theta = au.mul(bu).sum(-1, keepdim: true).clamp(-1, 1).acos();
        var sinTheta = theta.sin();
        var spherical = theta.mul(1 - t).sin().mul(a).add_(theta.mul(t).sin().mul(b)).div_(sinTheta);
        var linear = a.mul(1 - t).add_(b.mul(t));
        // mergekit writes the linear rows over the spherical ones through a squeezed mask; a where() with the
        // keepdim mask picks the same vectors without its squeeze (which breaks on shapes with other 1-sized dims).
        var res = where(sinTheta.abs().lt(ColinearSin), linear, spherical);
        if (transposed)
            res = res.transpose(0, -1);
        return res.reshape(shape).contiguous().MoveToOuterDisposeScope();
    }
}
