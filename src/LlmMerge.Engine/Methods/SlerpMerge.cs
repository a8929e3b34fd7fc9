using LlmMerge.Core;
using LlmMerge.Engine.Kernels;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// Spherical interpolation between the base model (t = 0) and one other model (t = 1), falling back to linear
/// interpolation when the normalised tensors are nearly colinear (|cos| &gt; 0.9995), as mergekit does.
/// </summary>
public sealed class SlerpMerge : IFusedMergeMethod
{
    private const double DotThreshold = 0.9995;
    private const double Eps = 1e-8;

    public string Name => "slerp";

    public string PrettyName => "SLERP";

    public string? ReferenceUrl => "https://en.wikipedia.org/wiki/Slerp";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } = [new("t", Required: true)];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [];

    public bool RequiresBaseModel => true;

    public void ValidateModelCount(int models, bool hasBase)
    {
        if (models != 2)
            throw new LlmMergeException($"merge method 'slerp' takes exactly two models, the base_model and one other (the recipe gives {models})");
    }

    public bool TryMergeFused(FusedMergeInputs inputs, RawTensor output) => SlerpKernel.TryMerge(inputs, output);

    public Tensor Merge(MergeInputs inputs)
    {
        if (FusedTensors.TryMerge(this, inputs) is { } fused)
            return fused;
        if (inputs.Tensors.Count == 1)
            return inputs.Tensors[0].Tensor.alias();
        var a = inputs.Base ?? throw new LlmMergeException($"slerp: base_model is not among the models of tensor '{inputs.TensorName}'");
        var b = inputs.Tensors.First(m => m != a);
        return Slerp(inputs.Number("t"), a.Tensor, b.Tensor);
    }

    /// <summary>Slerp of two tensors viewed as flat vectors; computed in float32 as mergekit's numpy code does.</summary>
    public static Tensor Slerp(double t, Tensor v0, Tensor v1)
    {
        using var scope = NewDisposeScope();
        var a = v0.to(ScalarType.Float32);
        var b = v1.to(ScalarType.Float32);
        var na = Normalize(a);
        var nb = Normalize(b);
        double dot = na.mul(nb).sum().item<float>();
        Tensor res;
        if (Math.Abs(dot) > DotThreshold)
        {
            res = a.mul(1 - t).add_(b.mul(t));
        }
        else
        {
            double theta0 = Math.Acos(dot);
            double sinTheta0 = Math.Sin(theta0);
            double thetaT = theta0 * t;
            double s0 = Math.Sin(theta0 - thetaT) / sinTheta0;
            double s1 = Math.Sin(thetaT) / sinTheta0;
            res = a.mul(s0).add_(b.mul(s1));
        }
        return res.MoveToOuterDisposeScope();
    }

    private static Tensor Normalize(Tensor v)
    {
        double norm = v.norm().item<float>();
        return norm > Eps ? v.div(norm) : v;
    }
}
