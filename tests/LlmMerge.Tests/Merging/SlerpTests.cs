using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class SlerpTests : MergeTestBase
{
    private const string Yaml = """
        merge_method: slerp
        base_model: base
        parameters: {t: TVALUE}
        models:
          - model: base
          - model: a
        """;

    [TestCase(0.0, "base")]
    [TestCase(1.0, "a")]
    public void EndpointsAreTheModels(double t, string expected)
    {
        string o = Merge(Yaml.Replace("TVALUE", t.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        foreach (var name in Fixtures.Names(2))
            AssertClose(ModelReader.Read(o, name), In(expected, name), 1e-5, name);
    }

    [Test]
    public void MidpointFollowsTheGreatCircle()
    {
        string o = Merge(Yaml.Replace("TVALUE", "0.3"));
        foreach (var name in Fixtures.Names(2))
        {
            var v0 = In("base", name).Select(x => (double)x).ToArray();
            var v1 = In("a", name).Select(x => (double)x).ToArray();
            double n0 = Math.Sqrt(v0.Sum(x => x * x)), n1 = Math.Sqrt(v1.Sum(x => x * x));
            double dot = v0.Zip(v1, (x, y) => x / n0 * (y / n1)).Sum();
            double theta = Math.Acos(dot);
            double s0 = Math.Sin(theta * 0.7) / Math.Sin(theta), s1 = Math.Sin(theta * 0.3) / Math.Sin(theta);
            var expected = v0.Select((x, i) => (float)(s0 * x + s1 * v1[i])).ToArray();
            AssertClose(ModelReader.Read(o, name), expected, 1e-4, name);
        }
    }

    [Test]
    public void NearlyParallelTensorsAreInterpolatedLinearly()
    {
        var v = Fixtures.Values(11, 64);
        new TinyModel().Add("w", [8, 8], v).Write(Dir["p0"]);
        new TinyModel().Add("w", [8, 8], v.Select(x => 2 * x).ToArray()).Write(Dir["p1"]);
        string o = Merge("""
            merge_method: slerp
            base_model: p0
            parameters: {t: 0.25}
            models:
              - model: p0
              - model: p1
            """);
        AssertClose(ModelReader.Read(o, "w"), v.Select(x => 0.75f * x + 0.25f * 2 * x).ToArray());
    }

    [Test]
    public void GradientOfTChangesAlongTheLayers()
    {
        string o = Merge("""
            merge_method: slerp
            base_model: base
            parameters:
              t:
                - filter: self_attn
                  value: [0, 1]
                - value: 0.5
            models:
              - model: base
              - model: a
            """);
        // two layers: t = 0 at layer 0 (the base), t = 1 at layer 1 (the other model)
        AssertClose(ModelReader.Read(o, "model.layers.0.self_attn.q_proj.weight"), In("base", "model.layers.0.self_attn.q_proj.weight"));
        AssertClose(ModelReader.Read(o, "model.layers.1.self_attn.q_proj.weight"), In("a", "model.layers.1.self_attn.q_proj.weight"));
    }
}
