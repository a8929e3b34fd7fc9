using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class SceTests : MergeTestBase
{
    /// <summary>
    /// SCE written out plainly: keep the int(nonzero * topk) entries of largest population variance across the
    /// task vectors (ties by position), weight each model by the mean square of its task vector over the sum
    /// (equal weights when that sum is below 1e-6), drop entries against the sign of the sum, weighted mean.
    /// </summary>
    private static float[] Sce(float[] b, float[][] xs, double topk)
    {
        int n = b.Length, m = xs.Length;
        var tv = xs.Select(x => x.Select((v, i) => (double)(v - b[i])).ToArray()).ToArray();
        if (topk < 1)
        {
            var variance = new double[n];
            for (int i = 0; i < n; i++)
            {
                double mean = tv.Average(d => d[i]);
                variance[i] = tv.Average(d => (d[i] - mean) * (d[i] - mean));
            }
            int k = (int)(variance.Count(v => v != 0) * topk);
            var keep = Enumerable.Range(0, n).OrderByDescending(i => variance[i]).ThenBy(i => i).Take(k).ToHashSet();
            foreach (var d in tv)
            {
                for (int i = 0; i < n; i++)
                    d[i] = keep.Contains(i) ? d[i] : 0;
            }
        }
        var w = tv.Select(d => d.Average(v => v * v)).ToArray();
        double sum = w.Sum();
        w = Math.Abs(sum) < 1e-6 ? w.Select(_ => 1.0 / m).ToArray() : w.Select(v => v / sum).ToArray();
        var res = new float[n];
        for (int i = 0; i < n; i++)
        {
            int sign = tv.Sum(d => d[i]) >= 0 ? 1 : -1;
            double num = 0, den = 0;
            for (int j = 0; j < m; j++)
            {
                if (Math.Sign(tv[j][i]) == sign)
                {
                    num += w[j] * tv[j][i];
                    den += w[j];
                }
            }
            res[i] = (float)(b[i] + num / Math.Max(den, 1e-6));
        }
        return res;
    }

    [TestCase(1.0, 2)]
    [TestCase(0.5, 2)]
    [TestCase(1.0, 3)]
    [TestCase(0.3, 3)]
    public void MatchesAPlainLoop(double topk, int others)
    {
        Fixtures.Model(4).Write(Dir["c"]);
        string[] names = ["a", "b", "c"];
        string models = string.Concat(names.Take(others).Select(m => $"\n  - model: {m}"));
        string o = Merge($"merge_method: sce\nbase_model: base\nparameters: {{select_topk: {topk}}}\nmodels:{models}\n");
        foreach (var name in Fixtures.Names(2))
        {
            var expected = Sce(In("base", name), names.Take(others).Select(m => In(m, name)).ToArray(), topk);
            AssertClose(ModelReader.Read(o, name), expected, 1e-5, name);
        }
    }

    [Test]
    public void SelectTopkKeepsTheEntriesOfLargestVarianceAmongThoseThatVary()
    {
        const int n = 64;
        var b = Fixtures.Values(1, n);
        var xs = new[] { Fixtures.Values(2, n), Fixtures.Values(3, n), Fixtures.Values(4, n) };
        // Entries 0..15 do not vary across the models (every task vector is 0.5 there): they do not count in
        // "nonzero", so k = int(48 * 0.25) = 12, and being agreed they are kept as they are.
        for (int i = 0; i < 16; i++)
        {
            foreach (var x in xs)
                x[i] = b[i] + 0.5f;
        }
        var res = MethodRunner.Run("sce", [8, 8], [new("base", b), .. xs.Select((x, j) => new MethodInput($"m{j}", x))], "base", new() { ["select_topk"] = 0.25 });
        var changed = Enumerable.Range(16, n - 16).Where(i => res[i] != b[i]).ToList();
        Assert.That(changed, Has.Count.EqualTo(12), "entries selected among those that vary");
        AssertClose(res, Sce(b, xs, 0.25));
    }

    [Test]
    public void TinyTaskVectorsAreWeightedEquallyAsMergekitDoes()
    {
        // Mean squares of about 1e-8 sum to far below 1e-6, so mergekit falls back to equal weights: with every
        // sign agreeing the result is the plain mean of the task vectors (not weighted 1:9 by their squares).
        var b = Fixtures.Values(1, 12);
        var d = Fixtures.Values(2, 12).Select(Math.Abs).ToArray();
        float[] x = b.Select((v, i) => v + 1e-4f * d[i]).ToArray();
        float[] y = b.Select((v, i) => v + 3e-4f * d[i]).ToArray();
        var res = MethodRunner.Run("sce", [3, 4], [new("base", b), new("x", x), new("y", y)], "base");
        AssertClose(res, b.Select((v, i) => (float)(v + ((x[i] - (double)v) + (y[i] - (double)v)) / 2)).ToArray(), 1e-6);
    }

    [TestCase(0.0)]
    [TestCase(0.01)]
    public void SelectingNothingKeepsTheBase(double topk)
    {
        // mergekit returns a zero mask of the wrong shape here (its output gains a leading dimension); we keep
        // the base, which is what an all-zero selection means. int(12 * 0.01) = 0 selects nothing too.
        var b = Fixtures.Values(1, 12);
        var res = MethodRunner.Run("sce", [3, 4], [new("base", b), new("x", Fixtures.Values(2, 12)), new("y", Fixtures.Values(3, 12))], "base",
            new() { ["select_topk"] = topk });
        AssertClose(res, b);
    }

    [Test]
    public void NoBaseModelIsAnError()
    {
        var (_, err) = MergeFails("""
            merge_method: sce
            models:
              - model: a
              - model: b
            """);
        Assert.That(err, Does.Contain("'sce'").And.Contain("base_model"));
    }
}
