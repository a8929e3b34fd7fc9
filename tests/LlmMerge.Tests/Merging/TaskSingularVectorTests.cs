using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>tsv against TSV-M written out with the test's own Jacobi SVD (FusionBench's compute_and_sum_svd_mem_reduction at 54c9e8c9).</summary>
public class TaskSingularVectorTests : MergeTestBase
{
    internal static float[] Random(int seed, int n, double scale = 1)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    /// <summary>Truncate each task vector to int(r / T) triplets, stack, replace both stacks by their polar factors.</summary>
    private static double[,] Reference(IReadOnlyList<double[,]> taskVectors)
    {
        int rows = taskVectors[0].GetLength(0), cols = taskVectors[0].GetLength(1), r = Math.Min(rows, cols), tasks = taskVectors.Count;
        int k = (int)(r * (1.0 / tasks));
        var u = new double[rows, r];
        var v = new double[cols, r];
        var s = new double[r];
        for (int i = 0; i < tasks; i++)
        {
            var (ui, si, vi) = Mat.Svd(taskVectors[i]);
            for (int j = 0; j < k; j++)
            {
                s[i * k + j] = si[j];
                for (int a = 0; a < rows; a++)
                    u[a, i * k + j] = ui[a, j];
                for (int a = 0; a < cols; a++)
                    v[a, i * k + j] = vi[a, j];
            }
        }
        return Mat.Compose(Mat.Polar(u), s, Mat.Polar(v));
    }

    private static (List<MethodInput> Inputs, double[,] Base, List<double[,]> Deltas) Models(int rows, int cols, int tasks, int seed, double[]? alphas = null)
    {
        var b = Random(seed, rows * cols);
        var inputs = new List<MethodInput> { new("base", b) };
        var deltas = new List<double[,]>();
        for (int i = 0; i < tasks; i++)
        {
            var x = Random(seed + 1 + i, rows * cols);
            inputs.Add(new MethodInput($"m{i}", x, alphas is null ? null : new() { ["alpha"] = alphas[i] }));
            // The engine subtracts in float32 as FusionBench does; so does the reference before widening.
            deltas.Add(Mat.From(x.Select((v, j) => v - b[j]).ToArray(), rows, cols));
        }
        return (inputs, Mat.From(b, rows, cols), deltas);
    }

    [TestCase(6, 5, 3)]   // r = 5, 1 triplet each: two columns of the stacks stay empty
    [TestCase(8, 9, 3)]   // r = 8, 2 each
    [TestCase(7, 6, 2)]   // r = 6, 3 each: the stacks are full
    [TestCase(4, 10, 4)]  // wide, r = 4, 1 each
    public void MatchesThePlainAlgorithm(int rows, int cols, int tasks)
    {
        var (inputs, b, deltas) = Models(rows, cols, tasks, seed: rows * 100 + cols);
        var actual = MethodRunner.Run("tsv", [rows, cols], inputs, "base");
        var expected = Mat.Add(b, Reference(deltas));
        Assert.That(Mat.RelativeError(actual, expected), Is.LessThan(1e-5));
    }

    [Test]
    public void OneAlphaScalesTheMergedVectorAndSeveralScaleEachTaskVector()
    {
        var (inputs, b, deltas) = Models(6, 7, 3, seed: 11);
        // A global alpha reaches every model's entry, as the planner resolves it.
        var global = MethodRunner.Run("tsv", [6, 7], inputs.Select(i => i with { Parameters = new() { ["alpha"] = 0.3 } }).ToList(), "base");
        Assert.That(Mat.RelativeError(global, Mat.Add(b, Mat.Scale(Reference(deltas), 0.3))), Is.LessThan(1e-5));

        double[] alphas = [1.0, 0.5, 2.0];
        var (perModel, b2, d2) = Models(6, 7, 3, seed: 11, alphas);
        var actual = MethodRunner.Run("tsv", [6, 7], perModel, "base");
        var expected = Mat.Add(b2, Reference(d2.Select((d, i) => Mat.Scale(d, alphas[i])).ToList()));
        Assert.That(Mat.RelativeError(actual, expected), Is.LessThan(1e-5));
    }

    [Test]
    public void OneTaskAtFullRankReturnsTheTaskVector()
    {
        var (inputs, b, deltas) = Models(5, 4, 1, seed: 3);
        var actual = MethodRunner.Run("tsv", [5, 4], inputs, "base");
        Assert.That(Mat.RelativeError(actual, Mat.Add(b, deltas[0])), Is.LessThan(1e-5));
    }

    [Test]
    public void VectorsAndExcludedMatricesAreTheMeanTaskVector()
    {
        var (inputs, b, deltas) = Models(1, 9, 3, seed: 5);
        var mean = Mat.Add(b, Mat.Scale(Mat.Add(Mat.Add(deltas[0], deltas[1]), deltas[2]), 1.0 / 3));
        var vector = MethodRunner.Run("tsv", [9], inputs, "base");
        Assert.That(Mat.RelativeError(vector, mean), Is.LessThan(1e-6));

        var (matrixInputs, mb, md) = Models(3, 4, 3, seed: 6);
        var excluded = MethodRunner.Run("tsv", [3, 4], matrixInputs, "base", new() { ["exclude"] = new object[] { "w" } });
        var matrixMean = Mat.Add(mb, Mat.Scale(Mat.Add(Mat.Add(md[0], md[1]), md[2]), 1.0 / 3));
        Assert.That(Mat.RelativeError(excluded, matrixMean), Is.LessThan(1e-6));
    }

    [Test]
    public void RecipeExcludesByNameAndDecomposesTheRest()
    {
        string o = Merge("""
            merge_method: tsv
            base_model: base
            parameters:
              exclude: [embed_tokens, lm_head]
            models:
              - model: a
              - model: b
            """);
        foreach (var name in Fixtures.Names(2))
        {
            var shape = Fixtures.ShapeOf(name);
            var b = In("base", name);
            var da = In("a", name).Select((v, i) => v - b[i]).ToArray();
            var db = In("b", name).Select((v, i) => v - b[i]).ToArray();
            int rows = shape.Length == 2 ? (int)shape[0] : 1, cols = (int)shape[^1];
            double[,] merged = shape.Length == 2 && !name.Contains("embed_tokens") && !name.Contains("lm_head")
                ? Reference([Mat.From(da, rows, cols), Mat.From(db, rows, cols)])
                : Mat.Scale(Mat.Add(Mat.From(da, rows, cols), Mat.From(db, rows, cols)), 0.5);
            Assert.That(Mat.RelativeError(ModelReader.Read(o, name), Mat.Add(Mat.From(b, rows, cols), merged)), Is.LessThan(1e-5), name);
        }
    }
}
