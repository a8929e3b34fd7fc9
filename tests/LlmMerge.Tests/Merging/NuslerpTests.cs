using System.Globalization;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class NuslerpTests : MergeTestBase
{
    private static string Recipe(double w0, double w1, string? baseModel = null, string parameters = "", string m0 = "a", string m1 = "b") =>
        (baseModel is null ? "" : $"base_model: {baseModel}\n") + $$"""
        merge_method: nuslerp
        {{(parameters.Length == 0 ? "" : "parameters: {" + parameters + "}")}}
        models:
          - model: {{m0}}
            parameters: {weight: {{w0.ToString(CultureInfo.InvariantCulture)}}}
          - model: {{m1}}
            parameters: {weight: {{w1.ToString(CultureInfo.InvariantCulture)}}}
        """;

    [TestCase(1.0, 0.0, "a")]
    [TestCase(0.0, 1.0, "b")]
    [TestCase(2.5, 0.0, "a")]
    public void WeightOnOneModelReturnsThatModel(double w0, double w1, string expected)
    {
        string o = Merge(Recipe(w0, w1));
        foreach (var name in Fixtures.Names(2))
            AssertClose(ModelReader.Read(o, name), In(expected, name), 1e-5, name);
    }

    [Test]
    public void WeightOnOneModelWithABaseReturnsThatModel()
    {
        string o = Merge(Recipe(1, 0, "base"));
        foreach (var name in Fixtures.Names(2))
            AssertClose(ModelReader.Read(o, name), In("a", name), 1e-5, name);
    }

    [Test]
    public void FlattenedTensorsFollowTheGreatCircleAtTheWeightRatio()
    {
        // t = w1 / (w0 + w1) = 0.5 / 0.8
        string o = Merge(Recipe(0.3, 0.5));
        foreach (var name in Fixtures.Names(2))
        {
            var expected = Vec.Slerp(0.625, Vec.D(In("a", name)), Vec.D(In("b", name)));
            AssertClose(ModelReader.Read(o, name), Vec.F(expected), 1e-5, name);
        }
    }

    [Test]
    public void WithABaseTheTaskVectorsAreInterpolatedAndTheBaseAddedBack()
    {
        string o = Merge(Recipe(2, 1, "base"));
        foreach (var name in Fixtures.Names(2))
        {
            var b = Vec.D(In("base", name));
            var d = Vec.Slerp(1.0 / 3, Vec.Sub(Vec.D(In("a", name)), b), Vec.Sub(Vec.D(In("b", name)), b));
            AssertClose(ModelReader.Read(o, name), Vec.F(Vec.Add(b, d)), 1e-5, name);
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void UnflattenedTensorsAreInterpolatedVectorByVector(bool rowWise)
    {
        string o = Merge(Recipe(1, 3, parameters: $"nuslerp_flatten: false, nuslerp_row_wise: {(rowWise ? "true" : "false")}"));
        foreach (var name in Fixtures.Names(2))
        {
            var shape = Fixtures.ShapeOf(name);
            var a = Vec.D(In("a", name));
            var b = Vec.D(In("b", name));
            var expected = new double[a.Length];
            if (shape.Length == 1)
            {
                expected = Vec.Slerp(0.75, a, b);
            }
            else
            {
                int rows = (int)shape[0], cols = (int)shape[1];
                // mergekit's row_wise: true interpolates the columns of a 2-D weight and false its rows.
                if (rowWise)
                {
                    var ca = Vec.Columns(a, rows, cols);
                    var cb = Vec.Columns(b, rows, cols);
                    for (int c = 0; c < cols; c++)
                    {
                        var s = Vec.Slerp(0.75, ca[c], cb[c]);
                        for (int r = 0; r < rows; r++)
                            expected[r * cols + c] = s[r];
                    }
                }
                else
                {
                    var ra = Vec.Rows(a, rows, cols);
                    var rb = Vec.Rows(b, rows, cols);
                    for (int r = 0; r < rows; r++)
                        Vec.Slerp(0.75, ra[r], rb[r]).CopyTo(expected, r * cols);
                }
            }
            AssertClose(ModelReader.Read(o, name), Vec.F(expected), 1e-5, name);
        }
    }

    [Test]
    public void RowWiseIsIgnoredWhileFlattening()
    {
        string flat = Merge(Recipe(1, 3, parameters: "nuslerp_row_wise: true"));
        foreach (var name in Fixtures.Names(2))
            AssertClose(ModelReader.Read(flat, name), Vec.F(Vec.Slerp(0.75, Vec.D(In("a", name)), Vec.D(In("b", name)))), 1e-5, name);
    }

    [Test]
    public void WeightsThatCancelInterpolateHalfway()
    {
        string o = Merge(Recipe(1, -1));
        foreach (var name in Fixtures.Names(2))
            AssertClose(ModelReader.Read(o, name), Vec.F(Vec.Slerp(0.5, Vec.D(In("a", name)), Vec.D(In("b", name)))), 1e-5, name);
    }

    [Test]
    public void ParallelTensorsAreInterpolatedLinearly()
    {
        var v = Fixtures.Values(11, 12);
        new TinyModel().Add("w", [3, 4], v).Write(Dir["p0"]);
        new TinyModel().Add("w", [3, 4], v.Select(x => 2 * x).ToArray()).Write(Dir["p1"]);
        string o = Merge(Recipe(3, 1, m0: "p0", m1: "p1"));
        AssertClose(ModelReader.Read(o, "w"), v.Select(x => 0.75f * x + 0.25f * 2 * x).ToArray());
    }

    [Test]
    public void ThreeModelsWithoutABaseAreRefused()
    {
        var (_, err) = MergeFails("""
            merge_method: nuslerp
            models:
              - model: base
                parameters: {weight: 1}
              - model: a
                parameters: {weight: 1}
              - model: b
                parameters: {weight: 1}
            """);
        Assert.That(err, Does.Contain("'nuslerp'").And.Contain("exactly two").And.Contain("gives 3"));
    }

    [Test]
    public void OneModelBesidesTheBaseIsRefused()
    {
        var (_, err) = MergeFails("""
            merge_method: nuslerp
            base_model: base
            models:
              - model: a
                parameters: {weight: 1}
            """);
        Assert.That(err, Does.Contain("'nuslerp'").And.Contain("exactly two").And.Contain("gives 1 besides the base_model"));
    }

    [Test]
    public void MissingWeightNamesMethodAndModel()
    {
        var (_, err) = MergeFails("""
            merge_method: nuslerp
            models:
              - model: a
              - model: b
                parameters: {weight: 1}
            """);
        Assert.That(err, Does.Contain("'nuslerp'").And.Contain("'weight'").And.Contain("'a'"));
    }
}
