using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>iso_c and iso_cts against FusionBench's iso_utils.py (54c9e8c9) written out with the test's own Jacobi SVD.</summary>
public class IsotropicMergeTests
{
    private static (List<MethodInput> Inputs, double[,] Base, List<double[,]> Deltas) Models(int rows, int cols, int tasks, int seed)
    {
        var b = TaskSingularVectorTests.Random(seed, rows * cols);
        var inputs = new List<MethodInput> { new("base", b) };
        var deltas = new List<double[,]>();
        for (int i = 0; i < tasks; i++)
        {
            var x = TaskSingularVectorTests.Random(seed + 1 + i, rows * cols);
            inputs.Add(new MethodInput($"m{i}", x));
            deltas.Add(Mat.From(x.Select((v, j) => v - b[j]).ToArray(), rows, cols));
        }
        return (inputs, Mat.From(b, rows, cols), deltas);
    }

    private static double[,] Sum(IEnumerable<double[,]> xs) => xs.Aggregate((a, b) => Mat.Add(a, b));

    private static double[,] IsoC(IReadOnlyList<double[,]> deltas)
    {
        var (u, s, v) = Mat.Svd(Sum(deltas));
        return Mat.Compose(u, s.Select(_ => s.Average()).ToArray(), v);
    }

    private static double[,] IsoCts(IReadOnlyList<double[,]> deltas, double fraction)
    {
        int rows = deltas[0].GetLength(0), cols = deltas[0].GetLength(1), r = Math.Min(rows, cols), tasks = deltas.Count;
        int common = (int)(r * fraction);
        common = r - (int)Math.Round((double)(r - common) / tasks, MidpointRounding.ToEven) * tasks;
        int perTask = (r - common) / tasks;
        var (uc, sc, vc) = Mat.Svd(Sum(deltas));
        var u = new double[rows, r];
        var v = new double[cols, r];
        var s = new double[r];
        var projector = Mat.Mul(Mat.Cols(uc, 0, common), Mat.T(Mat.Cols(uc, 0, common)));
        for (int i = 0; i < tasks; i++)
        {
            var specific = Mat.Add(deltas[i], Mat.Mul(projector, deltas[i]), -1);
            var (ut, st, vt) = Mat.Svd(specific);
            for (int j = 0; j < perTask; j++)
            {
                s[i * perTask + j] = st[j];
                for (int a = 0; a < rows; a++)
                    u[a, i * perTask + j] = ut[a, j];
                for (int a = 0; a < cols; a++)
                    v[a, i * perTask + j] = vt[a, j];
            }
        }
        for (int j = 0; j < common; j++)
        {
            int at = tasks * perTask + j;
            s[at] = sc[j];
            for (int a = 0; a < rows; a++)
                u[a, at] = uc[a, j];
            for (int a = 0; a < cols; a++)
                v[a, at] = vc[a, j];
        }
        return Mat.Compose(Mat.Polar(u), s.Select(_ => s.Average()).ToArray(), Mat.Polar(v));
    }

    [TestCase(6, 5, 3, 1.0)]
    [TestCase(4, 9, 2, 0.7)]
    public void IsoCMatchesThePlainAlgorithm(int rows, int cols, int tasks, double scaling)
    {
        var (inputs, b, deltas) = Models(rows, cols, tasks, seed: rows * 10 + cols);
        var actual = MethodRunner.Run("iso_c", [rows, cols], inputs, "base", new() { ["scaling_factor"] = scaling });
        Assert.That(Mat.RelativeError(actual, Mat.Add(b, IsoC(deltas), scaling)), Is.LessThan(1e-5));
    }

    [Test]
    public void IsoCOutputSpectrumIsFlat()
    {
        var (inputs, b, _) = Models(7, 5, 3, seed: 2);
        var actual = MethodRunner.Run("iso_c", [7, 5], inputs, "base");
        var (_, s, _) = Mat.Svd(Mat.Add(Mat.From(actual, 7, 5), b, -1));
        Assert.That(s.Max() - s.Min(), Is.LessThan(1e-5 * s.Max()), string.Join(", ", s));
    }

    [TestCase(10, 8, 3, 0.8)]  // r 8: int(6.4) = 6, round(2/3) = 1 → 3 task dims, common 5
    [TestCase(12, 12, 4, 0.8)] // r 12: 9, round(3/4) = 1 → 4, common 8
    [TestCase(9, 11, 2, 0.5)]  // r 9: 4, round(5/2) = 2 (half to even) → 4, common 5
    [TestCase(6, 7, 3, 0.0)]   // r 6: 0, round(2) → 6, common 0: task subspaces only
    public void IsoCtsMatchesThePlainAlgorithm(int rows, int cols, int tasks, double fraction)
    {
        var (inputs, b, deltas) = Models(rows, cols, tasks, seed: rows * 10 + cols);
        var actual = MethodRunner.Run("iso_cts", [rows, cols], inputs, "base", new() { ["common_space_fraction"] = fraction, ["scaling_factor"] = 1.3 });
        Assert.That(Mat.RelativeError(actual, Mat.Add(b, IsoCts(deltas, fraction), 1.3)), Is.LessThan(1e-5));
    }

    [Test]
    public void IsoCtsSplitsDimensionsAsFusionBenchRounds()
    {
        Assert.That(Engine.Methods.IsoCtsMerge.SpaceSizes(10, 3, 0.8), Is.EqualTo((7L, 1L)));
        Assert.That(Engine.Methods.IsoCtsMerge.SpaceSizes(9, 2, 0.5), Is.EqualTo((5L, 2L)));
        Assert.That(Engine.Methods.IsoCtsMerge.SpaceSizes(7, 2, 0.5), Is.EqualTo((3L, 2L))); // int(3.5) = 3, round(2.0) = 2
        Assert.That(Engine.Methods.IsoCtsMerge.SpaceSizes(5, 3, 0.0), Is.EqualTo((-1L, 2L))); // refused by the method
    }

    [Test]
    public void VectorsAreTheMeanTaskVectorScaled()
    {
        var (inputs, b, deltas) = Models(1, 8, 3, seed: 9);
        var mean = Mat.Scale(Sum(deltas), 1.0 / 3);
        foreach (var method in new[] { "iso_c", "iso_cts" })
        {
            var actual = MethodRunner.Run(method, [8], inputs, "base", new() { ["scaling_factor"] = 2.0 });
            Assert.That(Mat.RelativeError(actual, Mat.Add(b, mean, 2.0)), Is.LessThan(1e-6), method);
        }
    }
}
