using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Methods;
using LlmMerge.Tests.Support;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Merging;

/// <summary>
/// The RegMean solve and the Fisher-weighted average on statistics made in the test, against FusionBench's formulas
/// (regmean.py, fisher_merging.py at 54c9e8c9) written with the test's own matrix code.
/// </summary>
public class RegMeanAndFisherMathTests
{
    /// <summary>XᵀX / rows of a random X: a Gram matrix as calibration makes one.</summary>
    private static double[,] Gram(int seed, int dim, int rows = 12)
    {
        var x = Mat.From(TaskSingularVectorTests.Random(seed, rows * dim), rows, dim);
        return Mat.Scale(Mat.Mul(Mat.T(x), x), 1.0 / rows);
    }

    private static double[,] Reduce(double[,] g, double ratio)
    {
        var r = (double[,])g.Clone();
        for (int i = 0; i < g.GetLength(0); i++)
            for (int j = 0; j < g.GetLength(1); j++)
                if (i != j)
                    r[i, j] *= ratio;
        return r;
    }

    private static double[,] RegMean(IReadOnlyList<double[,]> weights, IReadOnlyList<double[,]> grams, double ratio)
    {
        double[,]? sumG = null, sumGW = null;
        for (int i = 0; i < weights.Count; i++)
        {
            var g = Reduce(grams[i], ratio);
            var gw = Mat.Mul(g, Mat.T(weights[i]));
            sumG = sumG is null ? g : Mat.Add(sumG, g);
            sumGW = sumGW is null ? gw : Mat.Add(sumGW, gw);
        }
        return Mat.T(Mat.Mul(Mat.Inverse(sumG!), sumGW!));
    }

    private static Func<object?> Statistics(IReadOnlyList<string> models, IReadOnlyList<double[,]> grams) => () =>
        new RegMeanStatistics(models.Select((m, i) => (m, grams[i])).ToDictionary(x => new ModelReference(x.m), x => tensor(Mat.Flat(x.Item2)).reshape(x.Item2.GetLength(0), x.Item2.GetLength(1))));

    [TestCase(0.1)]
    [TestCase(1.0)]
    [TestCase(0.0)]
    public void RegMeanSolvesTheGramWeightedLeastSquares(double ratio)
    {
        int outDim = 5, inDim = 4;
        var w = Enumerable.Range(0, 3).Select(i => TaskSingularVectorTests.Random(20 + i, outDim * inDim)).ToList();
        var grams = Enumerable.Range(0, 3).Select(i => Gram(30 + i, inDim)).ToList();
        string[] names = ["m0", "m1", "m2"];
        var inputs = names.Select((n, i) => new MethodInput(n, w[i])).Prepend(new MethodInput("base", TaskSingularVectorTests.Random(1, outDim * inDim))).ToList();
        var actual = MethodRunner.Run("regmean", [outDim, inDim], inputs, "base", new() { ["reduce_non_diagonal_ratio"] = ratio }, prepared: Statistics(names, grams),
            tensorName: "model.layers.0.mlp.up_proj.weight");
        var expected = RegMean(w.Select(x => Mat.From(x, outDim, inDim)).ToList(), grams, ratio);
        Assert.That(Mat.RelativeError(actual, expected), Is.LessThan(1e-5));
    }

    [Test]
    public void RegMeanWithIdenticalGramMatricesIsTheAverage()
    {
        var w = Enumerable.Range(0, 3).Select(i => TaskSingularVectorTests.Random(40 + i, 12)).ToList();
        var g = Gram(50, 4);
        string[] names = ["m0", "m1", "m2"];
        var actual = MethodRunner.Run("regmean", [3, 4], names.Select((n, i) => new MethodInput(n, w[i])).ToList(), null, prepared: Statistics(names, [g, g, g]));
        var mean = Enumerable.Range(0, 12).Select(j => (w[0][j] + w[1][j] + w[2][j]) / 3).ToArray();
        Assert.That(Mat.RelativeError(actual, Mat.From(mean, 3, 4)), Is.LessThan(1e-5));
    }

    [Test]
    public void RegMeanOfOneModelIsThatModel()
    {
        var w = TaskSingularVectorTests.Random(60, 12);
        var actual = MethodRunner.Run("regmean", [3, 4], [new("base", TaskSingularVectorTests.Random(61, 12)), new("m0", w)], "base",
            prepared: Statistics(["m0"], [Gram(62, 4)]));
        Assert.That(Mat.RelativeError(actual, Mat.From(w, 3, 4)), Is.LessThan(1e-5));
    }

    [Test]
    public void TensorsWithoutStatisticsAreTheMeanAndExcludedOnesTheBase()
    {
        var b = TaskSingularVectorTests.Random(70, 6);
        var x = TaskSingularVectorTests.Random(71, 6);
        var y = TaskSingularVectorTests.Random(72, 6);
        var inputs = new List<MethodInput> { new("base", b), new("x", x), new("y", y) };
        foreach (var method in new[] { "regmean", "regmean_plusplus" })
        {
            var mean = MethodRunner.Run(method, [6], inputs, "base", tensorName: "model.norm.weight");
            Assert.That(mean, Is.EqualTo(x.Select((v, i) => (v + y[i]) / 2).ToArray()).Within(1e-6), method);
            var excluded = MethodRunner.Run(method, [6], inputs, "base", new() { ["exclude"] = new object[] { @"model\.norm" } }, tensorName: "model.norm.weight");
            Assert.That(excluded, Is.EqualTo(b), method);
            var notAnchored = MethodRunner.Run(method, [6], inputs, "base", new() { ["exclude"] = new object[] { "norm" } }, tensorName: "model.norm.weight");
            Assert.That(notAnchored, Is.EqualTo(mean), $"{method}: patterns match at the start, as re.match does");
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public void FisherWeightsEachEntryByItsFisher(bool normalize)
    {
        int n = 10;
        string[] names = ["m0", "m1", "m2"];
        var theta = names.Select((_, i) => TaskSingularVectorTests.Random(80 + i, n)).ToList();
        var fisher = names.Select((_, i) => TaskSingularVectorTests.Random(90 + i, n).Select(v => v * v * (i + 1)).ToArray()).ToList();
        double[] weights = [1.0, 2.0, 0.5];
        double[] modelNorms = [3.0, 0.5, 1.5];
        double minimal = 1e-6;
        var inputs = names.Select((m, i) => new MethodInput(m, theta[i], new() { ["weight"] = weights[i] })).ToList();
        var actual = MethodRunner.Run("fisher", [n], inputs, null, new() { ["normalize_fisher_weight"] = normalize },
            prepared: () => new FisherStatistics(
                names.Select((m, i) => (m, i)).ToDictionary(x => new ModelReference(x.m), x => tensor(fisher[x.i])),
                names.Select((m, i) => (m, i)).ToDictionary(x => new ModelReference(x.m), x => modelNorms[x.i])));

        var c = weights.ToArray();
        if (normalize)
        {
            var inv = modelNorms.Select(v => 1 / (v + minimal)).ToArray();
            c = c.Select((v, i) => v * inv[i] / inv.Sum()).ToArray();
        }
        var expected = new float[n];
        for (int j = 0; j < n; j++)
        {
            double num = 0, den = 0;
            for (int i = 0; i < names.Length; i++)
            {
                num += c[i] * (fisher[i][j] + minimal) * theta[i][j];
                den += c[i] * (fisher[i][j] + minimal);
            }
            expected[j] = (float)(num / den);
        }
        Assert.That(Mat.RelativeError(actual, Mat.From(expected, 1, n)), Is.LessThan(1e-5));
    }
}
