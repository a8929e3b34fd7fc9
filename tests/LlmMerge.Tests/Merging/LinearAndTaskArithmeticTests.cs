using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class LinearAndTaskArithmeticTests : MergeTestBase
{
    private const string Q = "model.layers.1.self_attn.q_proj.weight";

    [Test]
    public void LinearNormalizesByTheSumOfWeights()
    {
        string o = Merge("""
            merge_method: linear
            models:
              - model: a
                parameters: {weight: 1.0}
              - model: b
                parameters: {weight: 3.0}
            """);
        foreach (var name in Fixtures.Names(2))
        {
            var a = In("a", name);
            var b = In("b", name);
            AssertClose(ModelReader.Read(o, name), a.Select((x, i) => (x + 3 * b[i]) / 4).ToArray(), what: name);
        }
    }

    [Test]
    public void LinearWithoutNormalizeIsTheWeightedSum()
    {
        string o = Merge("""
            merge_method: linear
            parameters: {normalize: false}
            models:
              - model: a
                parameters: {weight: 0.5}
              - model: b
                parameters: {weight: 2}
            """);
        var a = In("a", Q);
        var b = In("b", Q);
        AssertClose(ModelReader.Read(o, Q), a.Select((x, i) => 0.5f * x + 2 * b[i]).ToArray());
    }

    [Test]
    public void TaskArithmeticAddsWeightedDeltasTimesLambda()
    {
        string o = Merge("""
            merge_method: task_arithmetic
            base_model: base
            parameters: {lambda: 0.5}
            models:
              - model: a
                parameters: {weight: 0.7}
              - model: b
                parameters: {weight: -0.3}
            """);
        foreach (var name in Fixtures.Names(2))
        {
            var x = In("base", name);
            var a = In("a", name);
            var b = In("b", name);
            var expected = x.Select((v, i) => v + 0.5f * (0.7f * (a[i] - v) + -0.3f * (b[i] - v))).ToArray();
            AssertClose(ModelReader.Read(o, name), expected, what: name);
        }
    }

    [Test]
    public void GradientInterpolatesOverLayersAndOutsideTensorsTakeItsFirstValue()
    {
        // Three layers: t = 0, 0.5, 1; weight of a goes 0 -> 1 over the gradient [0, 1] and b holds 1 - that.
        using var d = new TempDir();
        Fixtures.Model(2, layers: 3).Write(Dir["a3"]);
        Fixtures.Model(3, layers: 3).Write(Dir["b3"]);
        string o = Merge("""
            merge_method: linear
            parameters: {normalize: false}
            models:
              - model: a3
                parameters: {weight: [0, 1]}
              - model: b3
                parameters: {weight: [1, 0]}
            """);
        double[] t = [0, 0.5, 1];
        for (int layer = 0; layer < 3; layer++)
        {
            string name = $"model.layers.{layer}.mlp.up_proj.weight";
            var a = In("a3", name);
            var b = In("b3", name);
            float wa = (float)t[layer];
            AssertClose(ModelReader.Read(o, name), a.Select((x, i) => wa * x + (1 - wa) * b[i]).ToArray(), what: name);
        }
        // mergekit (a6e40288) plans the tensors before and after the layers at t = 0: weight 0 for a, 1 for b.
        AssertClose(ModelReader.Read(o, "model.embed_tokens.weight"), In("b3", "model.embed_tokens.weight"));
        AssertClose(ModelReader.Read(o, "lm_head.weight"), In("b3", "lm_head.weight"));
        AssertClose(ModelReader.Read(o, "model.norm.weight"), In("b3", "model.norm.weight"));
    }

    [Test]
    public void FiltersPickTheFirstMatchingCondition()
    {
        string o = Merge("""
            merge_method: linear
            parameters:
              normalize: false
              weight:
                - filter: self_attn
                  value: 0.25
                - filter: "*"
                  value: 1.0
            models:
              - model: a
              - model: b
                parameters:
                  weight:
                    - filter: mlp
                      value: 2
                    - value: 0
            """);
        var qa = In("a", Q);
        var qb = In("b", Q);
        AssertClose(ModelReader.Read(o, Q), qa.Select(x => 0.25f * x).ToArray(), what: "attention: a at 0.25, b at 0");
        string up = "model.layers.0.mlp.up_proj.weight";
        var ua = In("a", up);
        var ub = In("b", up);
        AssertClose(ModelReader.Read(o, up), ua.Select((x, i) => x + 2 * ub[i]).ToArray(), what: "mlp: a at 1, b at 2");
    }
}
