using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// SCE (https://arxiv.org/abs/2408.07990) as mergekit's sce.py: select the <c>select_topk</c> fraction of entries
/// (of those that vary at all) whose task vectors vary most across the models, calculate each model's weight
/// from the mean square of its selected task vector, erase entries whose sign disagrees with the sign of the
/// sum, and add the weighted mean of what is left to the base.
/// </summary>
public sealed class SceMerge : IMergeMethod
{
    public string Name => "sce";

    public string PrettyName => "SCE";

    public string? ReferenceUrl => "https://arxiv.org/abs/2408.07990";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } = [new("int8_mask", Default: false), new("select_topk", Default: 1.0)];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [];

    public bool RequiresBaseModel => true;

    public Tensor Merge(MergeInputs inputs)
    {
        var baseInput = inputs.Base ?? throw new LlmMergeException($"sce: base_model is not among the inputs of tensor '{inputs.TensorName}'");
        var b = baseInput.Tensor;
        var others = inputs.Tensors.Where(m => m != baseInput).ToList();
        if (others.Count == 0)
            return b.alias();

        using var scope = NewDisposeScope();
        // int8_mask only changes the dtype mergekit holds its 0/1 masks in, never a value: it is accepted and has no effect.
        var tvs = stack(others.Select(m => m.Tensor.to(b.dtype).sub(b)).ToArray());
        double topk = inputs.Number("select_topk");
        if (topk < 1)
        {
            var mask = SelectMask(tvs, topk);
            if (mask is null)
            {
                // mergekit's sce_mask returns a zero mask shaped like all the task vectors together here (not like
                // one of them), so broadcasting gives a result with an extra leading dimension of N copies of the
                // base. What the code means is "select nothing": every task vector is erased and the base is kept.
                return b.alias().MoveToOuterDisposeScope();
            }
            tvs = tvs.mul(mask.unsqueeze(0));
        }

        // Erase: an entry takes part only where its sign is that of the sum over the models (zero counting as
        // positive); zero entries never take part.
        // sum(dim: 0), not sum(0): TorchSharp reads a literal 0 as the ScalarType argument (Byte) of another overload.
        var positive = tvs.sum(dim: 0).ge(0);
        var agree = where(positive, tvs.gt(0), tvs.lt(0)).to(b.dtype);

        // Calculate: each model's weight is the mean square of its task vector, over the sum of them; when that
        // sum is below 1e-6 mergekit falls back to equal weights (which small real deltas can trigger).
        var dims = Enumerable.Range(1, (int)tvs.dim() - 1).Select(d => (long)d).ToArray();
        var weights = tvs.square().mean(dims);
        double weightSum = weights.sum().to(ScalarType.Float64).item<double>();
        weights = Math.Abs(weightSum) < 1e-6 ? ones_like(weights).div_(weights.shape[0]) : weights.div(weightSum);
        while (weights.dim() < tvs.dim())
            weights = weights.unsqueeze(-1);

        var erased = agree.mul_(weights);
        var merged = tvs.mul(erased).sum(dim: 0);
        var res = b.add(merged.div_(erased.sum(dim: 0).clamp_min_(1e-6)));
        return res.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A 0/1 mask over one task vector's shape marking the int(nonzero * topk) entries of largest variance across
    /// the models (population variance); null when that count is 0. Among equal variances the first in memory order win.
    /// </summary>
    private static Tensor? SelectMask(Tensor tvs, double topk)
    {
        if (topk <= 0)
            return null;
        var variance = tvs.var(0, unbiased: false);
        long nonzero = variance.count_nonzero().item<long>();
        // mergekit multiplies the int64 count tensor by the Python float, which torch does in float32.
        long k = (long)((float)nonzero * (float)topk);
        if (k == 0)
            return null;
        var flat = variance.abs().reshape(-1);
        var top = flat.to(ScalarType.Float32).sort(0, descending: true, stable: true).Indices.narrow(0, 0, k);
        var mask = zeros_like(flat).index_fill_(0, top, 1);
        return mask.view(variance.shape);
    }
}
