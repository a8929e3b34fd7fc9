using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class ModelStockTests : MergeTestBase
{
    /// <summary>
    /// Model Stock written out plainly over vectors of length <paramref name="cols"/> (the whole tensor, or each
    /// row): mean pairwise cosine of the offsets from the base, t = N cos / (1 + (N - 1) cos), t avg + (1 - t) base.
    /// </summary>
    private static float[] ModelStock(float[] b, float[][] xs, int cols)
    {
        int n = xs.Length;
        var res = new float[b.Length];
        for (int row = 0; row < b.Length / cols; row++)
        {
            int at = row * cols;
            var off = xs.Select(x => Enumerable.Range(0, cols).Select(c => (double)x[at + c] - b[at + c]).ToArray()).ToArray();
            var norm = off.Select(o => Math.Sqrt(o.Sum(v => v * v))).ToArray();
            double cosSum = 0;
            int pairs = 0;
            for (int i = 0; i < n; i++)
            {
                for (int j = i + 1; j < n; j++)
                {
                    double dot = Enumerable.Range(0, cols).Sum(c => off[i][c] * off[j][c]);
                    cosSum += Math.Clamp(dot / Math.Max(norm[i] * norm[j], 1e-6), -1, 1);
                    pairs++;
                }
            }
            double cos = cosSum / pairs;
            double t = n * cos / (1 + (n - 1) * cos);
            for (int c = 0; c < cols; c++)
            {
                double avg = xs.Sum(x => (double)x[at + c]) / n;
                res[at + c] = (float)(t * avg + (1 - t) * b[at + c]);
            }
        }
        return res;
    }

    [TestCase(false, 2)]
    [TestCase(true, 2)]
    [TestCase(false, 3)]
    [TestCase(true, 3)]
    public void MatchesAPlainLoop(bool filterWise, int others)
    {
        Fixtures.Model(4).Write(Dir["c"]);
        string[] names = ["a", "b", "c"];
        string models = string.Concat(names.Take(others).Select(m => $"\n  - model: {m}"));
        string o = Merge($"merge_method: model_stock\nbase_model: base\nparameters: {{filter_wise: {filterWise.ToString().ToLowerInvariant()}}}\nmodels:{models}\n");
        foreach (var name in Fixtures.Names(2))
        {
            var b = In("base", name);
            int cols = filterWise ? (int)Fixtures.ShapeOf(name)[^1] : b.Length;
            var expected = ModelStock(b, names.Take(others).Select(m => In(m, name)).ToArray(), cols);
            AssertClose(ModelReader.Read(o, name), expected, 1e-5, name);
        }
    }

    [Test]
    public void OrthogonalOffsetsKeepTheBaseAndEqualOffsetsGiveTheAverage()
    {
        // Row 0: offsets (1, 0, 0) and (0, 2, 0) are orthogonal: cos 0, t 0, the base row.
        // Row 1: offsets (1, 1, 0) and (2, 2, 0) point the same way: cos 1, t = 2 / (1 + 1) = 1, the average.
        float[] b = [1, 2, 3, 4, 5, 6];
        float[] x = [2, 2, 3, 5, 6, 6];
        float[] y = [1, 4, 3, 6, 7, 6];
        var res = MethodRunner.Run("model_stock", [2, 3], [new("base", b), new("x", x), new("y", y)], "base", new() { ["filter_wise"] = true });
        AssertClose(res, [1, 2, 3, 5.5f, 6.5f, 6]);
        // Over the whole tensor: offsets (1,0,0,1,1,0) and (0,2,0,2,2,0): cos = 4 / (sqrt 3 * sqrt 12) = 2/3,
        // t = (4/3) / (5/3) = 0.8.
        res = MethodRunner.Run("model_stock", [2, 3], [new("base", b), new("x", x), new("y", y)], "base");
        AssertClose(res, b.Select((v, i) => (float)(0.8 * (x[i] + y[i]) / 2 + 0.2 * v)).ToArray());
    }

    [Test]
    public void OneModelBesidesTheBaseIsAnError()
    {
        var (_, err) = MergeFails("""
            merge_method: model_stock
            base_model: base
            models:
              - model: a
            """);
        Assert.That(err, Does.Contain("'model_stock'").And.Contain("at least two other models").And.Contain("gives 2"));
    }

    [Test]
    public void NoBaseModelIsAnError()
    {
        var (_, err) = MergeFails("""
            merge_method: model_stock
            models:
              - model: a
              - model: b
              - model: base
            """);
        Assert.That(err, Does.Contain("'model_stock'").And.Contain("base_model"));
    }
}
