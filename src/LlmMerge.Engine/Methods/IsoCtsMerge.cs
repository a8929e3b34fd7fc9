using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// Iso-CTS, isotropic merging in common and task-specific subspaces (Marczak et al. 2025,
/// https://arxiv.org/abs/2502.04959), as FusionBench's <c>iso_cts</c> (fusion_bench/method/isotropic_merging/iso_utils.py
/// at commit 54c9e8c9). For a 2-D tensor not excluded, with r = min of its dimensions and T task vectors: the common
/// subspace is the top c singular directions of their sum, c = r − round((r − int(r · common_space_fraction)) / T) · T
/// (Python's round, half to even), so the remaining r − c divide evenly among the tasks; each task adds the top
/// (r − c) / T singular directions of its task vector with the common subspace projected out; the stacked U and Vh
/// are replaced by their polar factors and every singular value by the mean of the stacked ones. Other tensors are the
/// running mean of the task vectors. The result is base + <c>scaling_factor</c> times the merged task vector.
/// </summary>
public sealed class IsoCtsMerge : IMergeMethod
{
    public string Name => "iso_cts";

    public string PrettyName => "Iso-CTS";

    public string? ReferenceUrl => "https://arxiv.org/abs/2502.04959";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } =
    [
        new("scaling_factor", Default: 1.0),
        new("common_space_fraction", Default: 0.8),
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

        var filters = NameFilters.Of(inputs.Parameters.GetValueOrDefault("exclude"), Name, "exclude");
        Tensor merged = b.dim() == 2 && !NameFilters.Excludes(filters, inputs.TensorName)
            ? CommonAndTaskSpaces(taskVectors, inputs.Number("common_space_fraction"), inputs.TensorName).to(b.dtype)
            : SubspaceMath.RunningMean(taskVectors);
        return b.add(merged.mul(inputs.Number("scaling_factor"))).MoveToOuterDisposeScope();
    }

    /// <summary>FusionBench's split of r dimensions into the common subspace and T equal task-specific ones.</summary>
    internal static (long Common, long PerTask) SpaceSizes(long r, int tasks, double commonSpaceFraction)
    {
        long common = (long)(r * commonSpaceFraction);
        long taskTotal = (long)Math.Round((double)(r - common) / tasks, MidpointRounding.ToEven) * tasks;
        common = r - taskTotal;
        return (common, (long)((double)(r - common) / tasks));
    }

    internal static Tensor CommonAndTaskSpaces(IReadOnlyList<Tensor> taskVectors, double commonSpaceFraction, string tensorName)
    {
        using var scope = NewDisposeScope();
        int tasks = taskVectors.Count;
        var svdType = SubspaceMath.SvdType(taskVectors[0].dtype);
        long r = Math.Min(taskVectors[0].shape[0], taskVectors[0].shape[1]);
        var (common, perTask) = SpaceSizes(r, tasks, commonSpaceFraction);
        if (common < 0)
            throw new LlmMergeException(
                $"iso_cts: tensor '{tensorName}' has rank {r}: with {tasks} task vectors and common_space_fraction {commonSpaceFraction} the rounding leaves a common subspace of {common} dimensions (FusionBench fails here too); raise common_space_fraction");

        var (u, s, vh) = SubspaceMath.Svd(SubspaceMath.Sum(taskVectors).to(svdType));
        var commonU = u.narrow(1, 0, common);
        var commonS = s.narrow(0, 0, common);
        var commonVh = vh.narrow(0, 0, common);

        Tensor? combinedU = null, combinedS = null, combinedVh = null;
        for (int i = 0; i < tasks; i++)
        {
            var w = taskVectors[i].to(svdType);
            // w − U_c U_cᵀ w, associated as U_c (U_cᵀ w) so no m × m matrix is formed.
            var specific = w.sub(commonU.matmul(commonU.t().matmul(w)));
            var (ut, st, vht) = SubspaceMath.Svd(specific);
            if (combinedU is null)
            {
                combinedU = zeros_like(ut);
                combinedS = zeros_like(st);
                combinedVh = zeros_like(vht);
            }
            if (perTask == 0)
                continue;
            combinedU.narrow(1, i * perTask, perTask).copy_(ut.narrow(1, 0, perTask));
            combinedS!.narrow(0, i * perTask, perTask).copy_(st.narrow(0, 0, perTask));
            combinedVh!.narrow(0, i * perTask, perTask).copy_(vht.narrow(0, 0, perTask));
        }
        long at = tasks * perTask;
        if (common > 0)
        {
            combinedU!.narrow(1, at, common).copy_(commonU);
            combinedS!.narrow(0, at, common).copy_(commonS);
            combinedVh!.narrow(0, at, common).copy_(commonVh);
        }
        var flat = ones_like(combinedS!).mul(combinedS!.mean());
        return SubspaceMath.Recompose(SubspaceMath.Polar(combinedU!), flat, SubspaceMath.Polar(combinedVh!)).MoveToOuterDisposeScope();
    }
}
