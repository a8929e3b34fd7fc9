using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// Iso-C, isotropic merging in the common subspace (Marczak et al. 2025, https://arxiv.org/abs/2502.04959), as
/// FusionBench's <c>iso_c</c> (fusion_bench/method/isotropic_merging/iso_utils.py at commit 54c9e8c9): the task
/// vectors' mean, and for a 2-D tensor not excluded their sum (the mean times T) with every singular value replaced
/// by the mean singular value; base + <c>scaling_factor</c> times that.
/// </summary>
public sealed class IsoCMerge : IMergeMethod
{
    public string Name => "iso_c";

    public string PrettyName => "Iso-C";

    public string? ReferenceUrl => "https://arxiv.org/abs/2502.04959";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } =
    [
        new("scaling_factor", Default: 1.0),
        new("exclude", IsList: true),
    ];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [];

    public bool RequiresBaseModel => true;

    public void ValidateModelCount(int models, bool hasBase) => BaseAndTaskModels.RequireBaseAndOne(Name, models);

    public Tensor Merge(MergeInputs inputs)
    {
        using var scope = NewDisposeScope();
        var (baseInput, others) = BaseAndTaskModels.Split(inputs, Name);
        var b = baseInput.Tensor;
        var taskVectors = others.Select(m => m.Tensor.sub(b)).ToList();
        if (taskVectors.Count == 0)
            return b.alias().MoveToOuterDisposeScope();

        int n = taskVectors.Count;
        var merged = SubspaceMath.Sum(taskVectors).div(n);
        var filters = NameFilters.Of(inputs.Parameters.GetValueOrDefault("exclude"), Name, "exclude");
        if (b.dim() == 2 && !NameFilters.Excludes(filters, inputs.TensorName))
            merged = IsotropicSum(merged.mul(n)).to(b.dtype);
        return b.add(merged.mul(inputs.Number("scaling_factor"))).MoveToOuterDisposeScope();
    }

    /// <summary>U diag(mean(S)) Vh of the summed task vector (in the SVD dtype).</summary>
    internal static Tensor IsotropicSum(Tensor sum)
    {
        using var scope = NewDisposeScope();
        var (u, s, vh) = SubspaceMath.Svd(sum.to(SubspaceMath.SvdType(sum.dtype)));
        var flat = ones_like(s).mul(s.mean());
        return SubspaceMath.Recompose(u, flat, vh).MoveToOuterDisposeScope();
    }
}
