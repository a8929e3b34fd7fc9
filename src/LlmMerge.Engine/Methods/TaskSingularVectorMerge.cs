using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// TSV-M, Task Singular Vectors merging (Gargiulo et al. 2025, https://arxiv.org/abs/2412.00081), as FusionBench's
/// <c>compute_and_sum_svd_mem_reduction</c> (fusion_bench/method/task_singular_vector/utils/TSVM_utils.py at
/// commit 54c9e8c9): for each 2-D tensor not excluded, each of the T task vectors is decomposed and truncated to
/// its first int(r · (1/T)) singular triplets (r = min of the dimensions), the truncations are placed side by side
/// in one U, S and Vh, U and Vh are replaced by their orthogonal polar factors (U_u Vh_u of their own SVDs) and the
/// merged task vector is polar(U) diag(S) polar(Vh); other tensors are the running mean of the task vectors.
/// <c>alpha</c>: where every model has the same value it scales the merged task vector (FusionBench's scalar alpha);
/// otherwise each model's task vector is scaled by its own before the decomposition (its list of alphas).
/// </summary>
public sealed class TaskSingularVectorMerge : IMergeMethod
{
    public string Name => "tsv";

    public string PrettyName => "Task Singular Vectors (TSV-M)";

    public string? ReferenceUrl => "https://arxiv.org/abs/2412.00081";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } = [new("exclude", IsList: true)];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [new("alpha", Default: 1.0)];

    public bool RequiresBaseModel => true;

    public void ValidateModelCount(int models, bool hasBase) => BaseAndTaskModels.RequireBaseAndOne(Name, models);

    public Tensor Merge(MergeInputs inputs)
    {
        using var scope = NewDisposeScope();
        var (baseInput, others) = BaseAndTaskModels.Split(inputs, Name);
        var b = baseInput.Tensor;
        var dtype = b.dtype;
        if (others.Count == 0)
            return b.alias().MoveToOuterDisposeScope();

        var alphas = others.Select(m => m.Number("alpha")).ToList();
        bool scalarAlpha = alphas.All(a => a == alphas[0]);
        // state_dict_sub in the models' dtype, then state_dict_mul by each alpha when they are a list.
        var taskVectors = others.Select((m, i) => scalarAlpha ? m.Tensor.sub(b) : m.Tensor.sub(b).mul(alphas[i])).ToList();

        var filters = NameFilters.Of(inputs.Parameters.GetValueOrDefault("exclude"), Name, "exclude");
        Tensor merged = b.dim() == 2 && !NameFilters.Excludes(filters, inputs.TensorName)
            ? SumOfTruncatedSvds(taskVectors).to(dtype)
            : SubspaceMath.RunningMean(taskVectors);
        if (scalarAlpha)
            merged = merged.mul(alphas[0]);
        return merged.add(b).MoveToOuterDisposeScope();
    }

    /// <summary>polar(U) diag(S) polar(Vh) over the side-by-side truncated SVDs of the task vectors (a new tensor, SVD dtype).</summary>
    internal static Tensor SumOfTruncatedSvds(IReadOnlyList<Tensor> taskVectors)
    {
        using var scope = NewDisposeScope();
        int tasks = taskVectors.Count;
        double svReduction = 1.0 / tasks;
        var svdType = SubspaceMath.SvdType(taskVectors[0].dtype);
        Tensor? sumU = null, sumS = null, sumVh = null;
        for (int i = 0; i < tasks; i++)
        {
            var (u, s, vh) = SubspaceMath.Svd(taskVectors[i].to(svdType));
            if (sumU is null)
            {
                sumU = zeros_like(u);
                sumS = zeros_like(s);
                sumVh = zeros_like(vh);
            }
            // Python's int(s.shape[0] * sv_reduction): the product in double, truncated.
            long k = (long)(s.shape[0] * svReduction);
            if (k == 0)
                continue;
            sumU.narrow(1, i * k, k).copy_(u.narrow(1, 0, k));
            sumS!.narrow(0, i * k, k).copy_(s.narrow(0, 0, k));
            sumVh!.narrow(0, i * k, k).copy_(vh.narrow(0, 0, k));
        }
        var merged = SubspaceMath.Recompose(SubspaceMath.Polar(sumU!), sumS!, SubspaceMath.Polar(sumVh!));
        return merged.MoveToOuterDisposeScope();
    }
}
