using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// Model Stock (https://arxiv.org/abs/2403.19522) as mergekit computes it: with the task vectors of the N models
/// around the base and cos their mean pairwise cosine, t = N cos / (1 + (N - 1) cos) and the result is
/// t * mean(models) + (1 - t) * base. One cosine for the whole tensor, or one per row with <c>filter_wise</c>.
/// </summary>
public sealed class ModelStockMerge : IMergeMethod
{
    public string Name => "model_stock";

    public string PrettyName => "Model Stock";

    public string? ReferenceUrl => "https://arxiv.org/abs/2403.19522";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } = [new("filter_wise", Default: false)];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [];

    public bool RequiresBaseModel => true;

    public void ValidateModelCount(int models, bool hasBase)
    {
        if (models < 3)
            throw new LlmMergeException($"merge method 'model_stock' needs the base_model and at least two other models (the recipe gives {models} in all)");
    }

    public Tensor Merge(MergeInputs inputs)
    {
        var baseInput = inputs.Base ?? throw new LlmMergeException($"model_stock: base_model is not among the inputs of tensor '{inputs.TensorName}'");
        if (inputs.Tensors.Count == 1)
            return baseInput.Tensor.alias();
        if (inputs.Tensors.Count < 3)
            throw new LlmMergeException($"model_stock: tensor '{inputs.TensorName}' has {inputs.Tensors.Count} inputs; it needs the base and at least two others");

        using var scope = NewDisposeScope();
        var w0 = baseInput.Tensor;
        var shape = w0.shape;
        // mergekit's filter_wise takes one cosine per vector along the last dimension, a 1-D tensor being one
        // such vector; otherwise the tensor is one flat vector.
        Func<Tensor, Tensor> rows = inputs.Flag("filter_wise")
            ? (x => x.dim() == 1 ? x.unsqueeze(0) : x)
            : (x => x.reshape(-1));
        var b = rows(w0);
        var ws = inputs.Tensors.Where(m => m != baseInput).Select(m => rows(m.Tensor.to(w0.dtype))).ToList();
        var offsets = ws.Select(w => w.sub(b)).ToList();
        var norms = offsets.Select(o => o.norm(-1)).ToList();

        var cosines = new List<Tensor>();
        for (int i = 0; i < offsets.Count; i++)
        {
            for (int j = i + 1; j < offsets.Count; j++)
            {
                var dot = offsets[i].mul(offsets[j]).sum(-1);
                cosines.Add(dot.div_(norms[i].mul(norms[j]).clamp_min_(1e-6)).clamp_(-1, 1));
            }
        }
        var cos = stack(cosines).mean([0]).unsqueeze(-1);
        int n = ws.Count;
        // mergekit does not guard the denominator: at cos = -1/(N-1) this gives inf or nan, and so do we.
        var t = cos.mul(n).div_(cos.mul(n - 1).add_(1));
        var avg = ws[0].clone();
        for (int i = 1; i < n; i++)
            avg.add_(ws[i]);
        avg.div_(n);
        var res = t.mul(avg).add_(t.neg().add_(1).mul(b));
        return res.reshape(shape).MoveToOuterDisposeScope();
    }
}
