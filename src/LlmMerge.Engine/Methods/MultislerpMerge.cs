using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// mergekit's Multi-SLERP: barycentric interpolation of any number of models on the hypersphere, through the
/// tangent space at their normalized weighted mean, rescaled by the weighted mean norm; with a <c>base_model</c>
/// it works on task vectors and adds the base back.
/// </summary>
public sealed class MultislerpMerge : IMergeMethod
{
    public string Name => "multislerp";

    public string PrettyName => "Multi-SLERP";

    public string? ReferenceUrl => "https://goddard.blog/posts/multislerp-wow-what-a-cool-idea";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } =
    [
        new("normalize_weights", Default: true),
        new("eps", Default: 1e-8),
    ];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [new("weight", Required: true)];

    public bool RequiresBaseModel => false;

    public void ValidateModelCount(int models, bool hasBase)
    {
        // mergekit would fail on an empty stack; say so before any tensor is read.
        if (hasBase && models < 2)
            throw new LlmMergeException($"merge method 'multislerp' needs at least one model besides the base_model (the recipe gives {models - 1})");
    }

    public Tensor Merge(MergeInputs inputs)
    {
        ModelTensor? baseInput = inputs.BaseModel is null ? null : inputs.Base;
        var models = inputs.Tensors.Where(m => m != baseInput).ToList();
        if (models.Count == 0)
            throw new LlmMergeException($"multislerp: tensor '{inputs.TensorName}' has no model besides the base_model");
        // mergekit returns a lone model's tensor as it is, without any base arithmetic.
        if (models.Count == 1)
            return models[0].Tensor.alias();

        bool normalize = inputs.Flag("normalize_weights");
        double eps = inputs.Number("eps");
        using var scope = NewDisposeScope();
        var dtype = models[0].Tensor.dtype;
        var shape = models[0].Tensor.shape;
        var stacked = stack(models.Select(m => m.Tensor).ToArray());
        if (baseInput is not null)
            stacked = stacked.sub(baseInput.Tensor);
        var flat = stacked.reshape(models.Count, -1);

        // mergekit holds the weights in a tensor of the computation dtype, so they are rounded to it.
        var w = tensor(models.Select(m => m.Number("weight")).ToArray(), ScalarType.Float64).to(dtype);
        if (normalize)
            w = w.div(w.sum());
        var wCol = w.view(-1, 1);

        var norms = flat.norm(-1, keepdim: true);
        var units = flat.div(norms.add(eps));
        // dim named: a bare 0 would bind to sum(ScalarType) and sum to bytes.
        var mean = units.mul(wCol).sum(dim: 0);
        var meanNorm = mean.norm();
        if (meanNorm.lt(eps).item<bool>())
        {
            if (models.Count != 2)
            {
                throw new LlmMergeException(
                    $"multislerp: the weighted sum of the models' directions is zero for tensor '{inputs.TensorName}' (antipodal models whose weights balance out); change the weights");
            }
            // mergekit's fallback for two models: a plain weighted sum of the (task) vectors.
            var lin = stacked[0].mul(w[0]).add_(stacked[1].mul(w[1]));
            if (baseInput is not null)
                lin = lin.add_(baseInput.Tensor);
            return lin.MoveToOuterDisposeScope();
        }
        mean = mean.div(meanNorm);

        // Each direction's orthogonal projection onto the tangent plane at the mean, not its logarithm map: this is
        // mergekit's approximation, so two models are not exactly their slerp.
        var dots = units.mul(mean).sum(-1, keepdim: true);
        var tangents = units.sub(dots.mul(mean));
        var tangent = tangents.mul(wCol).sum(dim: 0);
        // mergekit adds eps to the tangent norm, which keeps sin(x)/x finite when the models agree.
        var tangentNorm = tangent.norm().add(eps);
        var result = mean.mul(tangentNorm.cos()).add_(tangent.mul(tangentNorm.sin().div(tangentNorm)));

        // With normalize_weights false this is a weighted sum of the norms, not their mean, as in mergekit.
        var scale = norms.squeeze(-1).mul(w).sum();
        result = result.mul(scale).view(shape);
        if (baseInput is not null)
            result = result.add(baseInput.Tensor);
        return result.MoveToOuterDisposeScope();
    }
}
