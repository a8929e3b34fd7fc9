using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>ram and ramplus_tl against mergekit's ram.py (a6e40288) written as loops over entries.</summary>
public class RamTests
{
    private static (List<MethodInput> Inputs, float[] Base, float[][] Deltas) Models(int n, int tasks, int seed)
    {
        var r = new Random(seed);
        var b = TaskSingularVectorTests.Random(seed, n);
        var inputs = new List<MethodInput> { new("base", b) };
        var deltas = new float[tasks][];
        for (int i = 0; i < tasks; i++)
        {
            // About half the entries unchanged, some changed by less than epsilon, the rest by a lot.
            var x = b.Select(v => r.NextDouble() switch { < 0.45 => v, < 0.55 => v + 1e-6f, _ => v + (float)(r.NextDouble() - 0.5) }).ToArray();
            inputs.Add(new MethodInput($"m{i}", x));
            deltas[i] = x.Select((v, j) => v - b[j]).ToArray();
        }
        return (inputs, b, deltas);
    }

    private static double[] Reference(float[] b, float[][] deltas, double eps, double? r = null, double alpha = 0)
    {
        int n = b.Length, tasks = deltas.Length;
        var counts = new int[n];
        for (int j = 0; j < n; j++)
            counts[j] = deltas.Count(d => Math.Abs(d[j]) > eps);
        var lambda = new double[tasks];
        for (int i = 0; i < tasks; i++)
        {
            int shared = 0, unique = 0;
            for (int j = 0; j < n; j++)
            {
                if (Math.Abs(deltas[i][j]) <= eps)
                    continue;
                if (counts[j] > 1) shared++;
                if (counts[j] == 1) unique++;
            }
            double rho = shared / Math.Max(unique, eps);
            lambda[i] = r is null ? 1 : 1 + r.Value * Math.Clamp(rho, 0, alpha);
        }
        var result = new double[n];
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int i = 0; i < tasks; i++)
            {
                if (Math.Abs(deltas[i][j]) <= eps)
                    continue;
                sum += counts[j] == 1 ? deltas[i][j] * lambda[i] : deltas[i][j] / counts[j];
            }
            result[j] = b[j] + sum;
        }
        return result;
    }

    [Test]
    public void RamKeepsUniqueEntriesAndAveragesSharedOnes()
    {
        var (inputs, b, deltas) = Models(60, 3, 1);
        var actual = MethodRunner.Run("ram", [6, 10], inputs, "base");
        Assert.That(Mat.RelativeError(actual, Mat.From(Vec.F(Reference(b, deltas, 1e-5)), 1, 60)), Is.LessThan(1e-6));
    }

    [TestCase(0.1, 0.2)]
    [TestCase(0.5, 10.0)]
    public void RamPlusScalesEachModelsUniqueEntries(double r, double alpha)
    {
        var (inputs, b, deltas) = Models(80, 3, 2);
        var actual = MethodRunner.Run("ramplus_tl", [80], inputs, "base", new() { ["r"] = r, ["alpha"] = alpha });
        Assert.That(Mat.RelativeError(actual, Mat.From(Vec.F(Reference(b, deltas, 1e-5, r, alpha)), 1, 80)), Is.LessThan(1e-6));
    }

    [Test]
    public void UniqueEntriesScaleByEachModelsSharedToUniqueRatio()
    {
        // Each model shares one changed entry and owns one: rho = 1 / 1, clamped to alpha.
        var b = new float[] { 1, 2, 3, 4 };
        var x = new float[] { 2, 2, 4, 4 };
        var y = new float[] { 3, 2, 3, 5 };
        var actual = MethodRunner.Run("ramplus_tl", [4], [new("base", b), new("x", x), new("y", y)], "base", new() { ["r"] = 0.5, ["alpha"] = 0.2 });
        // Entry 0: shared, mean of 1 and 2; entry 2: only x (λx = 1 + 0.5·clamp(1/1, 0, 0.2) = 1.1); entry 3: only y (λy likewise).
        Assert.That(actual, Is.EqualTo(new[] { 2.5f, 2f, 3f + 1.1f, 4f + 1.1f }).Within(1e-6));
    }
}
