using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class NearswapTests : MergeTestBase
{
    /// <summary>NearSwap written out plainly: w = clamp(t / max(|base - other|, 1e-6), 0, 1); w other + (1 - w) base.</summary>
    private static float[] Nearswap(float[] b, float[] x, double t) =>
        b.Select((v, i) =>
        {
            double w = Math.Clamp(t / Math.Max(Math.Abs((double)v - x[i]), 1e-6), 0, 1);
            return (float)(w * x[i] + (1 - w) * v);
        }).ToArray();

    [TestCase(0.3)]
    [TestCase(1.5)]
    [TestCase(0.0)]
    [TestCase(-0.2)]
    public void MatchesAPlainLoop(double t)
    {
        string o = Merge($"""
            merge_method: nearswap
            base_model: base
            parameters: {"{"}t: {t}{"}"}
            models:
              - model: base
              - model: a
            """);
        foreach (var name in Fixtures.Names(2))
            AssertClose(ModelReader.Read(o, name), Nearswap(In("base", name), In("a", name), t), 1e-6, name);
    }

    [Test]
    public void EntriesWithinTTakeTheOtherModelAndFarOnesMoveByTOverTheDistance()
    {
        float[] b = [0, 0, 0, 0, 1];
        float[] x = [0.1f, -0.2f, 1, -4, 1];
        var res = MethodRunner.Run("nearswap", [5], [new("base", b), new("x", x)], "base", new() { ["t"] = 0.5 });
        // |d| <= t: the other value; |d| = 1: halfway; |d| = 4: one eighth of the way; equal entries stay.
        AssertClose(res, [0.1f, -0.2f, 0.5f, -0.5f, 1]);
    }

    [Test]
    public void MoreThanOneModelBesidesTheBaseIsAnError()
    {
        var (_, err) = MergeFails("""
            merge_method: nearswap
            base_model: base
            parameters: {t: 0.1}
            models:
              - model: a
              - model: b
            """);
        Assert.That(err, Does.Contain("'nearswap'").And.Contain("exactly two models").And.Contain("gives 3"));
    }

    [Test]
    public void MissingTIsAnErrorNamingIt()
    {
        var (_, err) = MergeFails("""
            merge_method: nearswap
            base_model: base
            models:
              - model: a
            """);
        Assert.That(err, Does.Contain("'nearswap'").And.Contain("'t'"));
    }
}
