using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// The geometric median of the task vectors of each tensor (the point minimising Σ wᵢ ‖τᵢ − z‖), found with the
/// smoothed Weiszfeld iteration of Pillutla, Kakade and Harchaoui's <c>geom_median</c> (the package the LLM Merging
/// competition's creative-track winner merged with): z starts at the weighted mean; each step reweights every task
/// vector by wᵢ / max(<c>eps</c>, ‖τᵢ − z‖) and takes the reweighted mean; it stops after <c>max_iter</c> steps or
/// when the objective changes by at most <c>tol</c> times its value. The result is base + <c>lambda</c> · z.
/// Distances and weights are kept in double; the tensors are computed in the inputs' dtype (float32 for half types).
/// </summary>
public sealed class GeometricMedianMerge : IMergeMethod
{
    public string Name => "geometric_median";

    public string PrettyName => "Geometric Median";

    public string? ReferenceUrl => "https://arxiv.org/abs/1912.13445";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } =
    [
        new("eps", Default: 1e-6),
        new("max_iter", Default: 100),
        new("tol", Default: 1e-20),
        new("lambda", Default: 1.0),
    ];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [new("weight", Default: 1.0)];

    public bool RequiresBaseModel => true;

    public void ValidateModelCount(int models, bool hasBase) => BaseAndTaskModels.RequireBaseAndOne(Name, models);

    public Tensor Merge(MergeInputs inputs)
    {
        using var scope = NewDisposeScope();
        var (baseInput, others) = BaseAndTaskModels.Split(inputs, Name);
        var b = baseInput.Tensor;
        if (others.Count == 0)
            return b.alias().MoveToOuterDisposeScope();
        double maxIter = inputs.Number("max_iter");
        if (maxIter < 0 || maxIter != Math.Floor(maxIter))
            throw new LlmMergeException($"geometric_median: parameter 'max_iter' must be a whole number of iterations, 0 or more (got {maxIter})");
        var weights = others.Select(m => m.Number("weight")).ToArray();
        if (weights.Any(w => w < 0) || weights.Sum() <= 0)
            throw new LlmMergeException($"geometric_median: weights must be 0 or more with a positive sum (got {string.Join(", ", weights)}) for tensor '{inputs.TensorName}'");

        var work = b.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? ScalarType.Float32 : b.dtype;
        var points = others.Select(m => m.Tensor.to(work).sub(b.to(work))).ToList();
        var median = Median(points, weights, inputs.Number("eps"), (int)maxIter, inputs.Number("tol"));
        return b.to(work).add(median.mul(inputs.Number("lambda"))).to(b.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>geom_median's weiszfeld over a list of points: weighted mean, then reweighted means until the objective settles.</summary>
    internal static Tensor Median(IReadOnlyList<Tensor> points, double[] weights, double eps, int maxIter, double tol)
    {
        using var scope = NewDisposeScope();
        var median = WeightedMean(points, weights);
        // The distances to the current median give both its objective and the next step's weights.
        var distances = Distances(points, median);
        double objective = Objective(weights, distances);
        for (int iter = 0; iter < maxIter; iter++)
        {
            double previous = objective;
            var reweighted = new double[points.Count];
            for (int i = 0; i < points.Count; i++)
                reweighted[i] = weights[i] / Math.Max(eps, distances[i]);
            // Each step's median replaces the last at once: kept until the end they were a tensor per iteration, and
            // an embedding matrix iterated a hundred times held gigabytes.
            var next = WeightedMean(points, reweighted);
            median.Dispose();
            median = next;
            distances = Distances(points, median);
            objective = Objective(weights, distances);
            if (Math.Abs(previous - objective) <= tol * objective)
                break;
        }
        return median.MoveToOuterDisposeScope();
    }

    private static Tensor WeightedMean(IReadOnlyList<Tensor> points, double[] weights)
    {
        double total = weights.Sum();
        var sum = zeros_like(points[0]);
        for (int i = 0; i < points.Count; i++)
            sum.add_(points[i], alpha: weights[i] / total);
        return sum;
    }

    private static double[] Distances(IReadOnlyList<Tensor> points, Tensor median)
    {
        var d = new double[points.Count];
        for (int i = 0; i < points.Count; i++)
        {
            using var scope = NewDisposeScope();
            // Squares summed in double, a piece at a time: a float32 norm stalls the objective at float32's resolution
            // and would stop the iteration while the median still moves.
            var diff = points[i].sub(median).flatten();
            double sq = 0;
            const long Piece = 1 << 22;
            for (long at = 0; at < diff.shape[0]; at += Piece)
            {
                var part = diff.narrow(0, at, Math.Min(Piece, diff.shape[0] - at)).to(ScalarType.Float64);
                sq += part.dot(part).item<double>();
            }
            d[i] = Math.Sqrt(sq);
        }
        return d;
    }

    private static double Objective(double[] weights, double[] distances) => weights.Select((w, i) => w * distances[i]).Sum();
}
