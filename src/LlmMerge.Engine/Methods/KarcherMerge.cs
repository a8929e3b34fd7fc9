using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// mergekit's Karcher mean: the equally weighted Riemannian mean of the models' directions on the unit
/// hypersphere (fixed-point iteration from the normalized arithmetic mean), scaled by the mean of their norms.
/// </summary>
public sealed class KarcherMerge : IMergeMethod
{
    public string Name => "karcher";

    public string PrettyName => "Karcher Mean";

    public string? ReferenceUrl => "https://en.wikipedia.org/wiki/Karcher_mean";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } =
    [
        new("max_iter", Default: 10),
        new("tol", Default: 1e-5),
    ];

    // mergekit's karcher has no per-model parameters: every input, the base_model included, weighs 1/n.
    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [];

    public bool RequiresBaseModel => false;

    public Tensor Merge(MergeInputs inputs)
    {
        if (inputs.Tensors.Count == 1)
            return inputs.Tensors[0].Tensor.alias();
        double maxIter = inputs.Number("max_iter");
        if (maxIter < 0 || maxIter != Math.Floor(maxIter))
            throw new LlmMergeException($"karcher: parameter 'max_iter' must be a whole number of iterations, 0 or more (got {maxIter})");
        var tensors = inputs.Tensors.Select(m => m.Tensor).ToList();
        var alphas = tensors.Select(_ => 1.0 / tensors.Count).ToList();
        return Mean(tensors, alphas, (int)maxIter, inputs.Number("tol"));
    }

    /// <summary>
    /// mergekit's <c>karcher_merge_tensors</c>, in the inputs' dtype with norms taken in float32, as mergekit does.
    /// </summary>
    public static Tensor Mean(IReadOnlyList<Tensor> tensors, IReadOnlyList<double> alphas, int maxIter, double tol)
    {
        if (tensors.Count == 1)
            return tensors[0].alias();
        using var scope = NewDisposeScope();
        var dtype = tensors[0].dtype;
        var norms = new double[tensors.Count];
        var units = new Tensor[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            var n = tensors[i].to(ScalarType.Float32).norm();
            norms[i] = n.item<float>();
            units[i] = norms[i] == 0 ? zeros_like(tensors[i]) : tensors[i].div(n).to(dtype);
        }

        // Directions whose norm is at most tol are left out of the mean (and their weights renormalized away)...
        var valid = Enumerable.Range(0, tensors.Count).Where(i => norms[i] > tol).ToList();
        if (valid.Count == 0)
            return zeros_like(tensors[0]).MoveToOuterDisposeScope();
        double alphaSum = valid.Sum(i => alphas[i]);
        var a = valid.Select(i => alphas[i] / alphaSum).ToArray();
        var u = valid.Select(i => units[i]).ToArray();

        var mean = zeros_like(u[0]);
        for (int k = 0; k < u.Length; k++)
            mean.add_(u[k].mul(a[k]));
        double meanNorm = mean.to(ScalarType.Float32).norm().item<float>();
        mean = meanNorm < tol ? u[0].clone() : mean.div(meanNorm).to(dtype);

        for (int iter = 0; iter < maxIter; iter++)
        {
            var tangent = zeros_like(mean);
            for (int k = 0; k < u.Length; k++)
            {
                var dot = mean.flatten().dot(u[k].flatten()).clamp(-1, 1);
                var theta = dot.arccos();
                if (theta.to(ScalarType.Float64).item<double>() < tol)
                    continue;
                // The Riemannian logarithm of u[k] at the mean, weighted: (theta / sin theta) (u - cos theta mean).
                var coef = theta.div(theta.sin()).mul(a[k]);
                tangent.add_(u[k].sub(mean.mul(dot)).mul(coef));
            }
            var tangentNorm = tangent.to(ScalarType.Float32).norm();
            if (tangentNorm.item<float>() < tol)
                break;
            mean = mean.mul(tangentNorm.cos()).add(tangent.div(tangentNorm).mul(tangentNorm.sin())).to(dtype);
            var unitNorm = mean.to(ScalarType.Float32).norm();
            if (unitNorm.item<float>() > tol)
                mean = mean.div(unitNorm).to(dtype);
        }

        // ...but the scale is the weighted sum of every norm with the original weights, so zero (or tiny) tensors
        // still shrink the result: mergekit's choice, matched.
        double scale = 0;
        for (int i = 0; i < tensors.Count; i++)
            scale += alphas[i] * norms[i];
        return mean.mul(scale).MoveToOuterDisposeScope();
    }
}
