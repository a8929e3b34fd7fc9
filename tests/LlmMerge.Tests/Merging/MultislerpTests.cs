using System.Globalization;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class MultislerpTests : MergeTestBase
{
    private static string Recipe(IEnumerable<(string Model, double Weight)> models, string? baseModel = null, string parameters = "") =>
        "merge_method: multislerp\n"
        + (baseModel is null ? "" : $"base_model: {baseModel}\n")
        + (parameters.Length == 0 ? "" : $"parameters: {{{parameters}}}\n")
        + "models:\n"
        + string.Concat(models.Select(m => $"  - model: {m.Model}\n    parameters: {{weight: {m.Weight.ToString(CultureInfo.InvariantCulture)}}}\n"));

    /// <summary>
    /// The interpolation written out by hand: directions x/(|x|+eps), their weighted mean normalized, each
    /// direction's component orthogonal to it, the weighted tangent mapped back with cos/sin, times sum(w |x|).
    /// </summary>
    private static double[] Expected(IReadOnlyList<double[]> xs, double[] weights, double[]? baseValues = null, bool normalize = true, double eps = 1e-8)
    {
        var w = normalize ? weights.Select(x => x / weights.Sum()).ToArray() : weights;
        var deltas = baseValues is null ? xs : xs.Select(x => Vec.Sub(x, baseValues)).ToList();
        int n = deltas[0].Length;
        var norms = deltas.Select(Vec.Norm).ToArray();
        var units = deltas.Select((d, i) => Vec.Scale(d, 1 / (norms[i] + eps))).ToArray();
        var mean = new double[n];
        for (int k = 0; k < units.Length; k++)
            for (int i = 0; i < n; i++)
                mean[i] += w[k] * units[k][i];
        mean = Vec.Scale(mean, 1 / Vec.Norm(mean));
        var tangent = new double[n];
        for (int k = 0; k < units.Length; k++)
        {
            double dot = Vec.Dot(units[k], mean);
            for (int i = 0; i < n; i++)
                tangent[i] += w[k] * (units[k][i] - dot * mean[i]);
        }
        double tn = Vec.Norm(tangent) + eps;
        double scale = norms.Select((x, k) => x * w[k]).Sum();
        var res = new double[n];
        for (int i = 0; i < n; i++)
            res[i] = (mean[i] * Math.Cos(tn) + tangent[i] * Math.Sin(tn) / tn) * scale + (baseValues?[i] ?? 0);
        return res;
    }

    [Test]
    public void IdenticalModelsGiveThemBack()
    {
        Fixtures.Model(2).Write(Dir["a2"]);
        Fixtures.Model(2).Write(Dir["a3"]);
        string o = Merge(Recipe([("a", 1), ("a2", 2), ("a3", 0.5)]));
        foreach (var name in Fixtures.Names(2))
            AssertClose(ModelReader.Read(o, name), In("a", name), 1e-5, name);
    }

    [Test]
    public void ThreeModelsAreInterpolatedOnTheSphere()
    {
        string o = Merge(Recipe([("base", 1), ("a", 2), ("b", 3)]));
        foreach (var name in Fixtures.Names(2))
        {
            var expected = Expected([Vec.D(In("base", name)), Vec.D(In("a", name)), Vec.D(In("b", name))], [1, 2, 3]);
            AssertClose(ModelReader.Read(o, name), Vec.F(expected), 1e-5, name);
        }
    }

    [Test]
    public void WithABaseTheTaskVectorsAreInterpolatedAndTheBaseAddedBack()
    {
        string o = Merge(Recipe([("a", 0.4), ("b", 0.6)], "base"));
        foreach (var name in Fixtures.Names(2))
        {
            var b = Vec.D(In("base", name));
            var expected = Expected([Vec.D(In("a", name)), Vec.D(In("b", name))], [0.4, 0.6], b);
            AssertClose(ModelReader.Read(o, name), Vec.F(expected), 1e-5, name);
            // The result's distance from the base is the weighted mean of the task vectors' norms.
            double norm = Vec.Norm(Vec.Sub(Vec.D(ModelReader.Read(o, name)), b));
            double meanNorm = 0.4 * Vec.Norm(Vec.Sub(Vec.D(In("a", name)), b)) + 0.6 * Vec.Norm(Vec.Sub(Vec.D(In("b", name)), b));
            Assert.That(norm, Is.EqualTo(meanNorm).Within(1e-5 * meanNorm), name);
        }
    }

    [Test]
    public void UnnormalizedWeightsScaleTheResultByTheirSum()
    {
        string o = Merge(Recipe([("a", 0.5), ("b", 0.25)], parameters: "normalize_weights: false"));
        foreach (var name in Fixtures.Names(2))
        {
            var expected = Expected([Vec.D(In("a", name)), Vec.D(In("b", name))], [0.5, 0.25], normalize: false);
            AssertClose(ModelReader.Read(o, name), Vec.F(expected), 1e-5, name);
        }
    }

    [Test]
    public void ALoneModelBesidesTheBaseIsReturnedAsItIs()
    {
        string o = Merge(Recipe([("a", 0.3)], "base"));
        foreach (var name in Fixtures.Names(2))
            AssertClose(ModelReader.Read(o, name), In("a", name), 0, name);
    }

    [Test]
    public void TwoAntipodalModelsOfEqualWeightFallBackToTheirWeightedSum()
    {
        var v = Fixtures.Values(11, 12);
        new TinyModel().Add("w", [3, 4], v).Write(Dir["p0"]);
        new TinyModel().Add("w", [3, 4], v.Select(x => -x).ToArray()).Write(Dir["p1"]);
        string o = Merge(Recipe([("p0", 1), ("p1", 1)]));
        AssertClose(ModelReader.Read(o, "w"), new float[12]);
    }

    [Test]
    public void DirectionsThatCancelAmongThreeModelsAreAnErrorNamingTheTensor()
    {
        var v = Fixtures.Values(11, 12);
        new TinyModel().Add("w", [3, 4], v).Write(Dir["p0"]);
        new TinyModel().Add("w", [3, 4], v.Select(x => -x).ToArray()).Write(Dir["p1"]);
        new TinyModel().Add("w", [3, 4], Fixtures.Values(12, 12)).Write(Dir["p2"]);
        var (_, err) = MergeFails(Recipe([("p0", 1), ("p1", 1), ("p2", 0)]));
        Assert.That(err, Does.Contain("multislerp").And.Contain("'w'").And.Contain("weights"));
    }

    [Test]
    public void OnlyTheBaseModelIsRefused()
    {
        var (_, err) = MergeFails("merge_method: multislerp\nbase_model: base\nmodels:\n  - model: base\n");
        Assert.That(err, Does.Contain("'multislerp'").And.Contain("at least one model besides the base_model").And.Contain("gives 0"));
    }
}
