using LlmMerge.Core.SafeTensors;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class DellaTests : MergeTestBase
{
    /// <summary>
    /// MagPrune's keep probabilities written out plainly: in each row (a 1-D tensor is one row), the entry of
    /// ascending magnitude rank r (0-based, ties by position) is kept with density - eps + 2 eps r / (cols - 1).
    /// </summary>
    private static float[] KeepProbabilities(float[] delta, int cols, double density, double eps)
    {
        var p = new float[delta.Length];
        for (int row = 0; row < delta.Length / cols; row++)
        {
            var order = Enumerable.Range(0, cols).OrderBy(c => Math.Abs(delta[row * cols + c])).ThenBy(c => c).ToArray();
            for (int r = 0; r < cols; r++)
                p[row * cols + order[r]] = (float)(density - eps + 2 * eps * r / (cols - 1));
        }
        return p;
    }

    /// <summary>DELLA after the masks are drawn, as plainly as possible: rescale, weight, elect, sum, normalize, lambda.</summary>
    private static float[] Della(float[] b, float[][] xs, float[][] masks, double[] w, bool consensus, bool normalize, bool rescale, double lambda)
    {
        int n = b.Length;
        var weighted = new double[xs.Length][];
        for (int m = 0; m < xs.Length; m++)
        {
            var d = xs[m].Select((x, i) => (double)(x - b[i])).ToArray();
            var kept = d.Select((x, i) => x * masks[m][i]).ToArray();
            double before = d.Sum(Math.Abs), after = kept.Sum(Math.Abs);
            double factor = rescale && before >= 1e-7 && after >= 1e-7 ? before / after : 1;
            weighted[m] = kept.Select(x => x * factor * w[m]).ToArray();
        }
        var res = new float[n];
        for (int i = 0; i < n; i++)
        {
            double mixed = 0, div = 0;
            if (consensus)
            {
                int sign = weighted.Sum(d => d[i]) >= 0 ? 1 : -1;
                for (int m = 0; m < xs.Length; m++)
                {
                    if (Math.Sign(weighted[m][i]) == sign)
                    {
                        mixed += weighted[m][i];
                        div += w[m];
                    }
                }
                if (div == 0)
                    div = 1;
            }
            else
            {
                mixed = weighted.Sum(d => d[i]);
                div = Math.Abs(w.Sum()) < 1e-8 ? 1 : w.Sum();
            }
            res[i] = (float)(b[i] + lambda * (normalize ? mixed / div : mixed));
        }
        return res;
    }

    private static Dictionary<string, object?> Ps(double weight, double density, double epsilon) =>
        new() { ["weight"] = weight, ["density"] = density, ["epsilon"] = epsilon };

    [TestCase("della", new long[] { 5, 8 }, true, true, 1.0)]
    [TestCase("della", new long[] { 12 }, false, true, 0.7)]
    [TestCase("della", new long[] { 6, 7 }, true, false, 1.3)]
    [TestCase("della_linear", new long[] { 5, 8 }, false, true, 1.0)]
    [TestCase("della_linear", new long[] { 4, 9 }, true, false, 0.5)]
    public void MatchesAPlainLoopForAFixedSeed(string method, long[] shape, bool normalize, bool rescale, double lambda)
    {
        int n = (int)shape.Aggregate(1L, (x, y) => x * y);
        int cols = (int)shape[^1];
        var b = Fixtures.Values(11, n);
        var a = Fixtures.Values(12, n);
        var c = Fixtures.Values(13, n);
        var globals = new Dictionary<string, object?> { ["normalize"] = normalize, ["rescale"] = rescale, ["lambda"] = lambda };
        var res = MethodRunner.Run(method, shape,
            [new("base", b), new("a", a, Ps(0.7, 0.5, 0.2)), new("c", c, Ps(0.4, 0.6, 0.15))], "base", globals, seed: 42);

        var pa = KeepProbabilities(a.Select((x, i) => x - b[i]).ToArray(), cols, 0.5, 0.2);
        var pc = KeepProbabilities(c.Select((x, i) => x - b[i]).ToArray(), cols, 0.6, 0.15);
        // The method draws model after model from the tensor's generator; draw the same way from the same seed.
        var masks = MethodRunner.Draws(42, shape, pa, pc);
        Assert.That(masks[0].Count(x => x == 0), Is.InRange(1, n - 1), "the mask of a drops some entries and keeps some");
        var expected = Della(b, [a, c], [.. masks], [0.7, 0.4], consensus: method == "della", normalize, rescale, lambda);
        AssertClose(res, expected, 1e-5);
    }

    [Test]
    public void KeepProbabilityRisesWithMagnitudeRankFromDensityMinusToPlusEpsilon()
    {
        const int rows = 2000, cols = 32;
        const double density = 0.4, eps = 0.25;
        var delta = Fixtures.Values(5, rows * cols);
        var res = MethodRunner.Run("della_linear", [rows, cols],
            [new("zero", new float[rows * cols]), new("x", delta, Ps(1.0, density, eps))], "zero",
            new() { ["rescale"] = false }, seed: 3);
        double kept = res.Count(x => x != 0) / (double)res.Length;
        Assert.That(kept, Is.EqualTo(density).Within(0.01), "fraction kept overall");
        var keptByRank = new int[cols];
        for (int r = 0; r < rows; r++)
        {
            var order = Enumerable.Range(0, cols).OrderBy(c => Math.Abs(delta[r * cols + c])).ToArray();
            for (int rank = 0; rank < cols; rank++)
            {
                int i = r * cols + order[rank];
                Assert.That(res[i] == 0 || res[i] == delta[i], $"entry {i} is kept as it is or dropped (no rescale)");
                keptByRank[rank] += res[i] != 0 ? 1 : 0;
            }
        }
        for (int rank = 0; rank < cols; rank++)
        {
            double expected = density - eps + 2 * eps * rank / (cols - 1);
            // binomial standard deviation is at most 0.011 over 2000 rows; allow about 4.5 of them
            Assert.That(keptByRank[rank] / (double)rows, Is.EqualTo(expected).Within(0.05), $"rank {rank}");
        }
    }

    [Test]
    public void RescaleKeepsTheL1NormWithOneCommonFactor()
    {
        const int rows = 64, cols = 64;
        var delta = Fixtures.Values(8, rows * cols);
        var res = MethodRunner.Run("della_linear", [rows, cols],
            [new("zero", new float[rows * cols]), new("x", delta, Ps(1.0, 0.3, 0.1))], "zero", seed: 9);
        double l1Before = delta.Sum(x => Math.Abs((double)x));
        Assert.That(res.Sum(x => Math.Abs((double)x)), Is.EqualTo(l1Before).Within(l1Before * 1e-5), "L1 norm");
        double factor = l1Before / delta.Where((x, i) => res[i] != 0).Sum(x => Math.Abs((double)x));
        Assert.That(factor, Is.GreaterThan(2), "about 1/density: most of the norm was dropped");
        for (int i = 0; i < res.Length; i++)
        {
            if (res[i] != 0)
                Assert.That(res[i], Is.EqualTo(delta[i] * factor).Within(1e-5 * Math.Abs(delta[i] * factor)), $"[{i}]");
        }
    }

    [Test]
    public void DensityOneKeepsEverythingWhateverEpsilonAndDensityZeroKeepsNothing()
    {
        var b = Fixtures.Values(1, 20);
        var x = Fixtures.Values(2, 20);
        // mergekit returns before checking epsilon at density 1 (and 0), so an epsilon of 0.9 is no error there.
        var all = MethodRunner.Run("della_linear", [4, 5], [new("base", b), new("x", x, Ps(1.0, 1.0, 0.9))], "base");
        AssertClose(all, x);
        var none = MethodRunner.Run("della", [4, 5], [new("base", b), new("x", x, Ps(1.0, 0.0, 0.9))], "base");
        AssertClose(none, b);
    }

    [Test]
    public void IsReproducibleForASeedAndDiffersAcrossSeeds()
    {
        const string yaml = """
            merge_method: della
            base_model: base
            parameters: {density: 0.5, epsilon: 0.1}
            models:
              - model: a
                parameters: {weight: 1.0}
              - model: b
                parameters: {weight: 0.5}
            """;
        var first = ModelReader.Read(Merge(yaml, "--random-seed", "5"), "lm_head.weight");
        var again = ModelReader.Read(Merge(yaml, "--random-seed", "5"), "lm_head.weight");
        var other = ModelReader.Read(Merge(yaml, "--random-seed", "6"), "lm_head.weight");
        Assert.That(again, Is.EqualTo(first));
        Assert.That(other, Is.Not.EqualTo(first));
    }

    [Test]
    public void RunsInBfloat16KeepingOrDroppingEachEntry()
    {
        // mergekit draws in bfloat16 for bfloat16 tensors; with one model, weight 1 and no rescale every entry is
        // the base plus the whole delta or the base alone.
        Fixtures.Model(1, dtype: SafetensorsDType.BF16).Write(Dir["base16"]);
        Fixtures.Model(2, dtype: SafetensorsDType.BF16).Write(Dir["a16"]);
        string o = Merge("""
            merge_method: della_linear
            base_model: base16
            dtype: bfloat16
            parameters: {density: 0.5, epsilon: 0.3, rescale: false}
            models:
              - model: a16
                parameters: {weight: 1.0}
            """);
        int kept = 0, total = 0;
        foreach (var name in Fixtures.Names(2))
        {
            var b = In("base16", name);
            var a = In("a16", name);
            var res = ModelReader.Read(o, name);
            for (int i = 0; i < res.Length; i++)
            {
                float whole = Bf16.Round(b[i] + Bf16.Round(a[i] - b[i]));
                Assert.That(res[i] == b[i] || res[i] == whole, $"{name}[{i}]: {res[i]} is neither {b[i]} nor {whole}");
                kept += res[i] != b[i] ? 1 : 0;
                total++;
            }
        }
        Assert.That(kept, Is.InRange(total / 5, total * 4 / 5), "about half the entries kept");
    }

    [Test]
    public void RowsOfOneEntryCannotBeRankedAndTheErrorSaysWhere()
    {
        new TinyModel().Add("w", [3, 1], [1, 2, 3]).Write(Dir["col0"]);
        new TinyModel().Add("w", [3, 1], [2, 2, 5]).Write(Dir["col1"]);
        var (_, err) = MergeFails("""
            merge_method: della
            base_model: col0
            models:
              - model: col1
                parameters: {weight: 1, density: 0.5}
            """);
        Assert.That(err, Does.Contain("della:").And.Contain("dimension 1").And.Contain("'w'").And.Contain("'col1'"));
    }

    [TestCase("della", 0.2, 0.3)]
    [TestCase("della_linear", 0.9, 0.15)]
    [TestCase("della", 0.5, 0.5)]
    public void EpsilonThatPushesDensityOutOfTheUnitIntervalIsAnErrorNamingIt(string method, double density, double epsilon)
    {
        var (_, err) = MergeFails($"""
            merge_method: {method}
            base_model: base
            models:
              - model: a
                parameters: {"{"}weight: 1, density: {density}, epsilon: {epsilon}{"}"}
            """);
        Assert.That(err, Does.Contain(method + ":").And.Contain("'epsilon'").And.Contain("'a'").And.Contain("(0, 1)"));
    }

    [Test]
    public void EpsilonIsAParameterOfDellaOnly()
    {
        var (_, err) = MergeFails("""
            merge_method: dare_ties
            base_model: base
            models:
              - model: a
                parameters: {weight: 1, density: 0.5, epsilon: 0.1}
            """);
        Assert.That(err, Does.Contain("epsilon"));
    }
}
