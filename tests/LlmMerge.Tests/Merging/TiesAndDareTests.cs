using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class TiesAndDareTests : MergeTestBase
{
    /// <summary>TIES written out as plainly as possible, independently of the engine.</summary>
    private static float[] Ties(float[] b, float[][] xs, double[] w, double density, bool normalize)
    {
        int n = b.Length;
        int k = (int)(density * n);
        var deltas = new float[xs.Length][];
        for (int m = 0; m < xs.Length; m++)
        {
            var d = xs[m].Select((x, i) => x - b[i]).ToArray();
            // keep the k largest |d|; among equal magnitudes the earlier index wins
            var keep = Enumerable.Range(0, n).OrderByDescending(i => Math.Abs(d[i])).ThenBy(i => i).Take(k).ToHashSet();
            deltas[m] = d.Select((x, i) => keep.Contains(i) ? (float)(x * w[m]) : 0f).ToArray();
        }
        var res = new float[n];
        for (int i = 0; i < n; i++)
        {
            double sum = deltas.Sum(d => (double)d[i]);
            int sign = sum >= 0 ? 1 : -1;
            double mixed = 0, div = 0;
            for (int m = 0; m < xs.Length; m++)
            {
                if (Math.Sign(deltas[m][i]) == sign)
                {
                    mixed += deltas[m][i];
                    div += w[m];
                }
            }
            if (div == 0)
                div = 1;
            res[i] = (float)(b[i] + (normalize ? mixed / div : mixed));
        }
        return res;
    }

    [TestCase(0.5, true)]
    [TestCase(0.3, false)]
    public void TiesMatchesAPlainLoop(double density, bool normalize)
    {
        string o = Merge($"""
            merge_method: ties
            base_model: base
            parameters: {"{"}density: {density}, normalize: {normalize.ToString().ToLowerInvariant()}{"}"}
            models:
              - model: a
                parameters: {"{"}weight: 0.6{"}"}
              - model: b
                parameters: {"{"}weight: 0.9{"}"}
            """);
        foreach (var name in Fixtures.Names(2))
        {
            var expected = Ties(In("base", name), [In("a", name), In("b", name)], [0.6, 0.9], density, normalize);
            AssertClose(ModelReader.Read(o, name), expected, what: name);
        }
    }

    [Test]
    public void TiesKeepsExactlyFloorDensityTimesNEntriesOfEachDelta()
    {
        // One expert with weight 1 and normalize: the output's delta is the pruned delta itself.
        string o = Merge("""
            merge_method: ties
            base_model: base
            models:
              - model: a
                parameters: {weight: 1.0, density: 0.35}
            """);
        foreach (var name in Fixtures.Names(2))
        {
            var b = In("base", name);
            var outDelta = ModelReader.Read(o, name).Select((x, i) => x - b[i]).ToArray();
            Assert.That(outDelta.Count(x => x != 0), Is.EqualTo((int)(0.35 * b.Length)), name);
        }
    }

    [Test]
    public void DareKeepsAboutDensityAndRescalesToTheSameL1Norm()
    {
        using var d = new TempDir();
        var big = new TinyModel().Add("w", [256, 256], Fixtures.Values(7, 65536));
        var basis = new TinyModel().Add("w", [256, 256], new float[65536]);
        big.Write(Dir["big"]);
        basis.Write(Dir["zero"]);
        string o = Merge("""
            merge_method: dare_linear
            base_model: zero
            models:
              - model: big
                parameters: {weight: 1.0, density: 0.3}
            """);
        var delta = In("big", "w");
        var res = ModelReader.Read(o, "w");
        double kept = res.Count(x => x != 0) / (double)res.Length;
        Assert.That(kept, Is.EqualTo(0.3).Within(0.01), "fraction kept");
        double l1Before = delta.Sum(x => Math.Abs((double)x));
        double l1After = res.Sum(x => Math.Abs((double)x));
        Assert.That(l1After, Is.EqualTo(l1Before).Within(l1Before * 1e-4), "L1 norm kept by the rescale");
        // every kept entry is the original entry times one common factor
        double factor = l1Before / delta.Where((x, i) => res[i] != 0).Sum(x => Math.Abs((double)x));
        for (int i = 0; i < res.Length; i++)
        {
            if (res[i] != 0)
                Assert.That(res[i], Is.EqualTo(delta[i] * factor).Within(1e-4 * Math.Abs(delta[i] * factor) + 1e-7));
        }
    }

    [Test]
    public void DareIsReproducibleForASeedAndDiffersAcrossSeeds()
    {
        const string yaml = """
            merge_method: dare_ties
            base_model: base
            models:
              - model: a
                parameters: {weight: 1.0, density: 0.5}
              - model: b
                parameters: {weight: 1.0, density: 0.5}
            """;
        var first = ModelReader.Read(Merge(yaml, "--random-seed", "5"), "lm_head.weight");
        var again = ModelReader.Read(Merge(yaml, "--random-seed", "5"), "lm_head.weight");
        var other = ModelReader.Read(Merge(yaml, "--random-seed", "6"), "lm_head.weight");
        Assert.That(again, Is.EqualTo(first));
        Assert.That(other, Is.Not.EqualTo(first));
    }

    [Test]
    public void DareAtDensityOneIsTaskArithmetic()
    {
        string o = Merge("""
            merge_method: dare_ties
            base_model: base
            models:
              - model: a
                parameters: {weight: 0.5, density: 1.0}
              - model: b
                parameters: {weight: 0.5, density: 1.0}
            """);
        const string name = "model.layers.0.mlp.up_proj.weight";
        var expected = Ties(In("base", name), [In("a", name), In("b", name)], [0.5, 0.5], 1.0, normalize: false);
        AssertClose(ModelReader.Read(o, name), expected);
    }
}
