using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>geometric_median against a plain double Weiszfeld, and the point that minimises the weighted distance sum.</summary>
public class GeometricMedianTests
{
    private static double[] Weiszfeld(IReadOnlyList<double[]> points, double[] w, double eps = 1e-6, int maxIter = 100, double tol = 1e-20)
    {
        double[] Mean(double[] weights) => points.Select((p, i) => Vec.Scale(p, weights[i] / weights.Sum())).Aggregate(Vec.Add);
        double Objective(double[] z) => points.Select((p, i) => w[i] * Vec.Norm(Vec.Sub(p, z))).Sum();
        var median = Mean(w);
        double objective = Objective(median);
        for (int iter = 0; iter < maxIter; iter++)
        {
            double previous = objective;
            median = Mean(points.Select((p, i) => w[i] / Math.Max(eps, Vec.Norm(Vec.Sub(p, median)))).ToArray());
            objective = Objective(median);
            if (Math.Abs(previous - objective) <= tol * objective)
                break;
        }
        return median;
    }

    [Test]
    public void MatchesThePlainWeiszfeldIteration()
    {
        var b = TaskSingularVectorTests.Random(1, 12);
        double[] w = [1.0, 0.5, 2.0, 1.0];
        var inputs = new List<MethodInput> { new("base", b) };
        var points = new List<double[]>();
        for (int i = 0; i < w.Length; i++)
        {
            var x = TaskSingularVectorTests.Random(10 + i, 12, 1 + i);
            inputs.Add(new MethodInput($"m{i}", x, new() { ["weight"] = w[i] }));
            points.Add(Vec.D(x.Select((v, j) => v - b[j]).ToArray()));
        }
        var actual = MethodRunner.Run("geometric_median", [3, 4], inputs, "base", new() { ["lambda"] = 0.8 });
        var median = Weiszfeld(points, w);
        var expected = Vec.Add(Vec.D(b), Vec.Scale(median, 0.8));
        Assert.That(Mat.RelativeError(actual, Mat.From(Vec.F(expected), 1, 12)), Is.LessThan(1e-5));

        // The median minimises Σ w‖τ − z‖: no small step away from it does better.
        double Objective(double[] z) => points.Select((p, i) => w[i] * Vec.Norm(Vec.Sub(p, z))).Sum();
        var z = actual.Select((v, j) => (v - b[j]) / 0.8).ToArray();
        var r = new Random(3);
        for (int k = 0; k < 20; k++)
        {
            var step = Enumerable.Range(0, 12).Select(_ => (r.NextDouble() - 0.5) * 1e-2).ToArray();
            Assert.That(Objective(Vec.Add(z, step)), Is.GreaterThanOrEqualTo(Objective(z) - 1e-6));
        }
    }

    [Test]
    public void MaxIterZeroIsTheWeightedMean()
    {
        var b = TaskSingularVectorTests.Random(2, 6);
        var x = TaskSingularVectorTests.Random(3, 6);
        var y = TaskSingularVectorTests.Random(4, 6);
        var actual = MethodRunner.Run("geometric_median", [6], [new("base", b), new("x", x, new() { ["weight"] = 1.0 }), new("y", y, new() { ["weight"] = 3.0 })],
            "base", new() { ["max_iter"] = 0 });
        var expected = b.Select((v, j) => (float)(v + 0.25 * (x[j] - v) + 0.75 * (y[j] - v))).ToArray();
        Assert.That(Mat.RelativeError(actual, Mat.From(expected, 1, 6)), Is.LessThan(1e-6));
    }

    [Test]
    public void TheMedianOfIdenticalVectorsIsThatVector()
    {
        var b = TaskSingularVectorTests.Random(5, 10);
        var x = TaskSingularVectorTests.Random(6, 10);
        var actual = MethodRunner.Run("geometric_median", [10], [new("base", b), new("x1", x), new("x2", x), new("x3", x)], "base");
        Assert.That(Mat.RelativeError(actual, Mat.From(x, 1, 10)), Is.LessThan(1e-6));
    }
}
