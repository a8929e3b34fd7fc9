using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class KarcherTests : MergeTestBase
{
    private static string Recipe(string[] models, string? baseModel = null, string parameters = "") =>
        "merge_method: karcher\n"
        + (baseModel is null ? "" : $"base_model: {baseModel}\n")
        + (parameters.Length == 0 ? "" : $"parameters: {{{parameters}}}\n")
        + "models:\n"
        + string.Concat(models.Select(m => $"  - model: {m}\n"));

    private static double[] Unit(double[] x) => Vec.Scale(x, 1 / Vec.Norm(x));

    /// <summary>The Riemannian logarithm of unit vector x at unit vector u: the tangent at u pointing to x, as long as the arc.</summary>
    private static double[] Log(double[] u, double[] x)
    {
        double cos = Math.Clamp(Vec.Dot(u, x), -1, 1);
        double theta = Math.Acos(cos);
        return theta < 1e-12 ? new double[u.Length] : Vec.Scale(Vec.Sub(x, Vec.Scale(u, cos)), theta / Math.Sin(theta));
    }

    /// <summary>The equally weighted Karcher mean by Riemannian gradient steps run to convergence in double, times the mean norm.</summary>
    private static double[] Reference(IReadOnlyList<double[]> xs)
    {
        var units = xs.Select(Unit).ToList();
        var u = Unit(units.Aggregate(Vec.Add));
        for (int iter = 0; iter < 10_000; iter++)
        {
            var g = units.Select(x => Vec.Scale(Log(u, x), 1.0 / xs.Count)).Aggregate(Vec.Add);
            double gn = Vec.Norm(g);
            if (gn < 1e-14)
                break;
            u = Unit(Vec.Add(Vec.Scale(u, Math.Cos(gn)), Vec.Scale(g, Math.Sin(gn) / gn)));
        }
        return Vec.Scale(u, xs.Average(Vec.Norm));
    }

    [Test]
    public void IdenticalModelsGiveThemBack()
    {
        Fixtures.Model(2).Write(Dir["a2"]);
        Fixtures.Model(2).Write(Dir["a3"]);
        string o = Merge(Recipe(["a", "a2", "a3"]));
        foreach (var name in Fixtures.Names(2))
            AssertClose(ModelReader.Read(o, name), In("a", name), 1e-5, name);
    }

    [Test]
    public void TwoUnitVectorsGiveTheirSlerpMidpoint()
    {
        var p = Vec.F(Unit([3, -1, 2, 0.5, 1, -2]));
        var q = Vec.F(Unit([-1, 2, 1, 1, -0.5, 2]));
        new TinyModel().Add("w", [6], p).Write(Dir["p"]);
        new TinyModel().Add("w", [6], q).Write(Dir["q"]);
        string o = Merge(Recipe(["p", "q"]));
        var expected = Vec.Slerp(0.5, Vec.D(p), Vec.D(q));
        AssertClose(ModelReader.Read(o, "w"), Vec.F(expected), 1e-5);
        Assert.That(Vec.Norm(Vec.D(ModelReader.Read(o, "w"))), Is.EqualTo(1).Within(1e-5));
    }

    [Test]
    public void TwoModelsGiveTheMidpointOfTheirDirectionsScaledByTheMeanNorm()
    {
        string o = Merge(Recipe(["a", "b"]));
        foreach (var name in Fixtures.Names(2))
        {
            var a = Vec.D(In("a", name));
            var b = Vec.D(In("b", name));
            var expected = Vec.Scale(Vec.Slerp(0.5, Unit(a), Unit(b)), (Vec.Norm(a) + Vec.Norm(b)) / 2);
            AssertClose(ModelReader.Read(o, name), Vec.F(expected), 1e-5, name);
        }
    }

    [Test]
    public void ThreeModelsConvergeToTheKarcherMean()
    {
        string o = Merge(Recipe(["base", "a", "b"], parameters: "max_iter: 200"));
        foreach (var name in Fixtures.Names(2))
        {
            var xs = new[] { "base", "a", "b" }.Select(m => Vec.D(In(m, name))).ToList();
            var actual = Vec.D(ModelReader.Read(o, name));
            AssertClose(Vec.F(actual), Vec.F(Reference(xs)), 1e-4, name);
            // The defining property: the logarithms of the inputs at the mean cancel, and the norm is the mean norm.
            var u = Unit(actual);
            var g = xs.Select(x => Log(u, Unit(x))).Aggregate(Vec.Add);
            Assert.That(Vec.Norm(g), Is.LessThan(1e-4), name);
            Assert.That(Vec.Norm(actual), Is.EqualTo(xs.Average(Vec.Norm)).Within(1e-5 * Vec.Norm(actual)), name);
        }
    }

    [Test]
    public void TheBaseModelIsOneMoreEquallyWeightedInput()
    {
        string o = Merge(Recipe(["a", "b"], baseModel: "base", parameters: "max_iter: 200"));
        foreach (var name in Fixtures.Names(2))
        {
            var xs = new[] { "base", "a", "b" }.Select(m => Vec.D(In(m, name))).ToList();
            AssertClose(ModelReader.Read(o, name), Vec.F(Reference(xs)), 1e-4, name);
        }
    }

    [Test]
    public void NoIterationsGiveTheNormalizedMeanOfTheDirections()
    {
        string o = Merge(Recipe(["base", "a", "b"], parameters: "max_iter: 0"));
        foreach (var name in Fixtures.Names(2))
        {
            var xs = new[] { "base", "a", "b" }.Select(m => Vec.D(In(m, name))).ToList();
            var expected = Vec.Scale(Unit(xs.Select(Unit).Aggregate(Vec.Add)), xs.Average(Vec.Norm));
            AssertClose(ModelReader.Read(o, name), Vec.F(expected), 1e-5, name);
        }
    }

    [Test]
    public void AZeroTensorHasNoDirectionButStillCountsInTheScale()
    {
        var p = Fixtures.Values(21, 8);
        var q = Fixtures.Values(22, 8);
        new TinyModel().Add("w", [2, 4], p).Write(Dir["p"]);
        new TinyModel().Add("w", [2, 4], q).Write(Dir["q"]);
        new TinyModel().Add("w", [2, 4], new float[8]).Write(Dir["z"]);
        string o = Merge(Recipe(["p", "q", "z"]));
        var dp = Vec.D(p);
        var dq = Vec.D(q);
        // mergekit's oddity: the direction is the midpoint of p and q, the scale (|p| + |q| + 0) / 3.
        var expected = Vec.Scale(Vec.Slerp(0.5, Unit(dp), Unit(dq)), (Vec.Norm(dp) + Vec.Norm(dq)) / 3);
        AssertClose(ModelReader.Read(o, "w"), Vec.F(expected), 1e-5);
    }

    [Test]
    public void AFractionalIterationCountIsRefused()
    {
        var (_, err) = MergeFails(Recipe(["a", "b"], parameters: "max_iter: 2.5"));
        Assert.That(err, Does.Contain("karcher").And.Contain("'max_iter'").And.Contain("2.5"));
    }
}
