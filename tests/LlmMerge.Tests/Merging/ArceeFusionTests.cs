using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class ArceeFusionTests : MergeTestBase
{
    private static string Recipe(string other, string baseModel = "base") => $"""
        merge_method: arcee_fusion
        base_model: {baseModel}
        models:
          - model: {baseModel}
          - model: {other}
        """;

    /// <summary>Importance |p - b| times the row's KL(softmax p + 1e-8 || softmax b + 1e-8), by hand in double.</summary>
    private static double[] Importance(double[] p, double[] b, int cols)
    {
        var res = new double[p.Length];
        for (int r = 0; r < p.Length / cols; r++)
        {
            var sp = Softmax(p.AsSpan(r * cols, cols));
            var sb = Softmax(b.AsSpan(r * cols, cols));
            double kl = 0;
            for (int c = 0; c < cols; c++)
                kl += (sp[c] + 1e-8) * Math.Log((sp[c] + 1e-8) / (sb[c] + 1e-8));
            for (int c = 0; c < cols; c++)
                res[r * cols + c] = Math.Abs(p[r * cols + c] - b[r * cols + c]) * kl;
        }
        return res;
    }

    private static double[] Softmax(ReadOnlySpan<double> x)
    {
        double max = double.NegativeInfinity;
        foreach (var v in x)
            max = Math.Max(max, v);
        var e = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            e[i] = Math.Exp(x[i] - max);
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    /// <summary>median + 1.5 (q3 - q1), each quantile the sorted entry at floor(q (n - 1)).</summary>
    private static double Threshold(double[] scores)
    {
        var s = scores.Order().ToArray();
        int last = s.Length - 1;
        return s[(int)Math.Floor(0.5 * last)] + 1.5 * (s[(int)Math.Floor(0.75 * last)] - s[(int)Math.Floor(0.25 * last)]);
    }

    /// <summary>base + (other - base) where kept, in float32 as the engine and mergekit compute it (not always the other's value exactly).</summary>
    private static float Taken(float b, float p) => b + (p - b);

    private void AssertFused(string output, string name, string other, int cols)
    {
        var b = Vec.D(In("base", name));
        var p = Vec.D(In(other, name));
        var imp = Importance(p, b, cols);
        double thr = Threshold(imp);
        // The float32 engine and this double reference must agree on which side of the threshold each entry is.
        Assert.That(imp.Min(x => Math.Abs(x - thr) / Math.Max(thr, 1e-30)), Is.GreaterThan(1e-4).Or.EqualTo(0), $"{name}: an entry sits on the threshold");
        var expected = imp.Select((x, i) => x >= thr ? Taken((float)b[i], (float)p[i]) : (float)b[i]).ToArray();
        AssertClose(ModelReader.Read(output, name), expected, 0, name);
    }

    [Test]
    public void EntriesAboveTheDynamicThresholdComeFromTheOtherModel()
    {
        var b = Fixtures.Values(31, 32);
        var noise = Fixtures.Values(32, 32, 0.05);
        var p = b.Select((x, i) => x + noise[i] + (i is 3 or 12 or 29 ? 1.5f : 0)).ToArray();
        new TinyModel().Add("w", [4, 8], b).Write(Dir["fb"]);
        new TinyModel().Add("w", [4, 8], p).Write(Dir["fp"]);
        string o = Merge(Recipe("fp", "fb"));
        var imp = Importance(Vec.D(p), Vec.D(b), 8);
        double thr = Threshold(imp);
        var expected = imp.Select((x, i) => x >= thr ? Taken(b[i], p[i]) : b[i]).ToArray();
        AssertClose(ModelReader.Read(o, "w"), expected, 0);
        var taken = Enumerable.Range(0, 32).Where(i => imp[i] >= thr).ToList();
        Assert.That(taken, Does.Contain(3).And.Contain(12).And.Contain(29), "the three large changes are kept");
        Assert.That(taken, Has.Count.LessThan(32), "some entries keep the base");
    }

    [Test]
    public void EveryTensorOfTheFixtureModelsIsFusedAsComputedByHand()
    {
        string o = Merge(Recipe("a"));
        foreach (var name in Fixtures.Names(2))
            AssertFused(o, name, "a", (int)Fixtures.ShapeOf(name)[^1]);
    }

    [Test]
    public void IdenticalModelsGiveTheBase()
    {
        Fixtures.Model(1).Write(Dir["base2"]);
        string o = Merge(Recipe("base2"));
        foreach (var name in Fixtures.Names(2))
            AssertClose(ModelReader.Read(o, name), In("base", name), 0, name);
    }

    [Test]
    public void LargeTensorsSampleTheQuantilesReproducibly()
    {
        const int rows = 1001, cols = 1000;
        var b = Fixtures.Values(41, rows * cols);
        var p = Fixtures.Values(42, rows * cols);
        new TinyModel().Add("w", [rows, cols], b).Write(Dir["lb"]);
        new TinyModel().Add("w", [rows, cols], p).Write(Dir["lp"]);
        string yaml = Recipe("lp", "lb");
        var first = ModelReader.Read(Merge(yaml, "--random-seed", "7"), "w");
        Directory.Delete(Dir["out"], true);
        var second = ModelReader.Read(Merge(yaml, "--random-seed", "7"), "w");
        Assert.That(second, Is.EqualTo(first), "same seed, same sample, same result");

        int taken = 0;
        for (int i = 0; i < first.Length; i++)
        {
            float kept = Taken(b[i], p[i]);
            Assert.That(first[i] == kept || first[i] == b[i], $"entry {i} is neither the base's value nor the other's");
            if (first[i] == kept && kept != b[i])
                taken++;
        }
        // A million samples estimate the quartiles closely: the share kept is near the exact threshold's share.
        var imp = Importance(Vec.D(p), Vec.D(b), cols);
        double thr = Threshold(imp);
        double exactShare = imp.Count(x => x >= thr) / (double)imp.Length;
        Assert.That(taken / (double)first.Length, Is.EqualTo(exactShare).Within(0.01));
    }

    [Test]
    public void ThreeModelsAreRefused()
    {
        var (_, err) = MergeFails("""
            merge_method: arcee_fusion
            base_model: base
            models:
              - model: a
              - model: b
            """);
        Assert.That(err, Does.Contain("'arcee_fusion'").And.Contain("exactly two").And.Contain("gives 3"));
    }

    [Test]
    public void ABaseModelIsRequired()
    {
        var (_, err) = MergeFails("merge_method: arcee_fusion\nmodels:\n  - model: a\n  - model: b\n");
        Assert.That(err, Does.Contain("'arcee_fusion'").And.Contain("base_model"));
    }
}
