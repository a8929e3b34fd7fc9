using LlmMerge.Core.SafeTensors;
using LlmMerge.Eval.Routing;
using LlmMerge.Modeling.Routing;
using LlmMerge.Tests.Support;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Routing;

/// <summary>
/// Arrow: prototypes against plain power iteration on (B·A)ᵀ(B·A), the routed projection against a hand computation of
/// PEFT's forward (|x·v|, top k, softmax with temperature, weighted LoRA updates), and a one-adapter router that scores
/// exactly as its adapter does.
/// </summary>
public class ArrowTests
{
    // The dominant eigenvector of M = (B·A)ᵀ(B·A) by plain power iteration in double (PEFT's method, run to convergence).
    private static double[] PowerIteration(float[] a, int r, int inDim, float[] b, int outDim)
    {
        var delta = new double[outDim, inDim];
        for (int o = 0; o < outDim; o++)
            for (int n = 0; n < inDim; n++)
                for (int k = 0; k < r; k++)
                    delta[o, n] += (double)b[o * r + k] * a[k * inDim + n];
        var v = Enumerable.Range(0, inDim).Select(i => 1.0 + 0.01 * i).ToArray();
        for (int it = 0; it < 2000; it++)
        {
            var w = new double[outDim];
            for (int o = 0; o < outDim; o++)
                for (int n = 0; n < inDim; n++) w[o] += delta[o, n] * v[n];
            var u = new double[inDim];
            for (int n = 0; n < inDim; n++)
                for (int o = 0; o < outDim; o++) u[n] += delta[o, n] * w[o];
            double norm = Math.Sqrt(u.Sum(x => x * x));
            v = u.Select(x => x / norm).ToArray();
        }
        return v;
    }

    private static Tensor Matrix(float[] values, long[] shape) => tensor(values).reshape(shape);

    [Test]
    public void APrototypeIsTheTopRightSingularVectorOfBA()
    {
        var adapter = new TinyAdapter(4, 8, targets: ["q_proj"]).Add("m", 10, 12, seed: 5);
        var (a, aShape, b, bShape) = adapter.Pair("m");
        using var scope = NewDisposeScope();
        var v = ArrowPrototype.TopRightSingularVector(Matrix(a, aShape), Matrix(b, bShape)).data<double>().ToArray();
        var expected = PowerIteration(a, 4, 12, b, 10);
        Assert.That(Math.Sqrt(v.Sum(x => x * x)), Is.EqualTo(1.0).Within(1e-12));
        Assert.That(Math.Abs(v.Zip(expected, (x, y) => x * y).Sum()), Is.EqualTo(1.0).Within(1e-9), "the same direction, up to sign");
        int largest = Array.IndexOf(v.Select(Math.Abs).ToArray(), v.Max(Math.Abs));
        Assert.That(v[largest], Is.Positive, "the sign is fixed: largest entry positive");
    }

    [Test]
    public void TheRoutedProjectionIsTheWeightedSumOfTheTopKAdapters()
    {
        const int inDim = 6, outDim = 5, tokens = 7, topK = 2;
        const double temperature = 0.5;
        int[] ranks = [2, 3, 4];
        double[] scales = [1.5, 0.75, 2.0];
        var pairs = ranks.Select((r, e) => (A: Fixtures.Values(10 + e, r * inDim), B: Fixtures.Values(20 + e, outDim * r, 0.5))).ToArray();
        var protos = ranks.Select((r, e) => PowerIteration(pairs[e].A, r, inDim, pairs[e].B, outDim)).ToArray();
        var x = Fixtures.Values(99, 1 * tokens * inDim, 2.0);

        using var scope = NewDisposeScope();
        using var arrow = new ArrowLora(
            tensor(protos.SelectMany(p => p.Select(v => (float)v)).ToArray()).reshape(3, inDim),
            ranks.Select((r, e) => Matrix(pairs[e].A, [r, inDim])).ToList(),
            ranks.Select((r, e) => Matrix(pairs[e].B, [outDim, r])).ToList(),
            scales, topK, temperature);
        var delta = arrow.Delta(tensor(x).reshape(1, tokens, inDim));
        Assert.That(delta.shape, Is.EqualTo(new long[] { 1, tokens, outDim }));
        var got = delta.data<float>().ToArray();

        for (int t = 0; t < tokens; t++)
        {
            var xt = x.Skip(t * inDim).Take(inDim).Select(v => (double)v).ToArray();
            var sim = protos.Select(p => Math.Abs(p.Zip(xt, (a, b) => a * b).Sum())).ToArray();
            var top = Enumerable.Range(0, 3).OrderByDescending(e => sim[e]).Take(topK).ToList();
            double z = top.Sum(e => Math.Exp(sim[e] / temperature));
            for (int o = 0; o < outDim; o++)
            {
                double want = 0;
                foreach (int e in top)
                {
                    int r = ranks[e];
                    double y = 0;
                    for (int k = 0; k < r; k++)
                    {
                        double ax = 0;
                        for (int n = 0; n < inDim; n++) ax += pairs[e].A[k * inDim + n] * xt[n];
                        y += pairs[e].B[o * r + k] * ax;
                    }
                    want += Math.Exp(sim[e] / temperature) / z * scales[e] * y;
                }
                Assert.That(got[t * outDim + o], Is.EqualTo(want).Within(1e-4 * Math.Max(1, Math.Abs(want))), $"token {t}, output {o}");
            }
        }
    }

    private static TinyAdapter Adapter(RoutingFixture f, int seed)
    {
        var s = f.Shape;
        var adapter = new TinyAdapter(2, 4, baseModel: "../base", targets: ["q_proj", "down_proj"]);
        for (int l = 0; l < s.Layers; l++)
        {
            adapter.Add($"model.layers.{l}.self_attn.q_proj", s.Heads * s.HeadDim, s.Hidden, seed + 10 * l);
            adapter.Add($"model.layers.{l}.mlp.down_proj", s.Hidden, s.Intermediate, seed + 10 * l + 5);
        }
        return adapter;
    }

    [Test]
    public void OneAdapterUnderArrowScoresAsTheAdapterItself()
    {
        using var f = new RoutingFixture(2);
        Adapter(f, 31).Write(f.ModelDir("lora"));
        string config = f.WriteConfig("router.yml", """
            base_model: models/base
            gate_mode: arrow
            experts_per_token: 1
            experts:
              - source_model: models/lora
            """);
        var manifest = new RouterBuilder().Build(RouteConfig.ParseFile(config), f["router"]);
        Assert.That(manifest.Kind, Is.EqualTo(RoutingKind.Arrow));
        // One adapter takes softmax weight 1 everywhere, so the routed model is W + scale·B·A: the adapter applied as read.
        var routed = RoutedEvaluation.Run(f["router"], f["out/router"], f["tasks/alpha.csv"]);
        var own = RoutedEvaluation.Run(f.ModelDir("lora"), f["out/lora"], f["tasks/alpha.csv"]);
        for (int r = 0; r < own.Samples.Count; r++)
            Assert.That(routed.Samples[r].LogLikelihoods, Is.EqualTo(own.Samples[r].LogLikelihoods).Within(1e-4), $"row {r}");
        Assert.That(routed.Results.FirstTask!.RoutedRows, Is.Null, "Arrow routes tokens, not rows");
        Assert.That(routed.Samples.Select(s => s.Expert), Has.All.Null);
    }

    [Test]
    public void TwoAdaptersGetOnePrototypeEachPerModule()
    {
        using var f = new RoutingFixture(2);
        var first = Adapter(f, 41);
        var second = Adapter(f, 51);
        first.Write(f.ModelDir("lora-a"));
        second.Write(f.ModelDir("lora-b"));
        string config = f.WriteConfig("router.yml", """
            base_model: models/base
            gate_mode: arrow
            experts:
              - source_model: models/lora-a
              - source_model: models/lora-b
            """);
        var manifest = new RouterBuilder().Build(RouteConfig.ParseFile(config), f["router"]);
        Assert.That(manifest.TopK, Is.EqualTo(2), "PEFT's default top_k of 3, capped at the two adapters");
        using (var file = SafetensorsFile.Open(f["router/router.safetensors"]))
        {
            Assert.That(file.Tensors, Has.Count.EqualTo(2 * f.Shape.Layers));
            string module = "model.layers.1.mlp.down_proj";
            var info = file.GetInfo(module + ".arrow_prototypes");
            Assert.That(info.Shape, Is.EqualTo(new long[] { 2, f.Shape.Intermediate }));
            var stored = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.GetBytes(info)).ToArray();
            foreach (var (adapter, row) in new[] { (first, 0), (second, 1) })
            {
                var (a, aShape, b, bShape) = adapter.Pair(module);
                var expected = PowerIteration(a, (int)aShape[0], (int)aShape[1], b, (int)bShape[0]);
                double dot = expected.Select((v, i) => v * stored[row * f.Shape.Intermediate + i]).Sum();
                Assert.That(Math.Abs(dot), Is.EqualTo(1.0).Within(1e-5), $"adapter {row}");
            }
        }
        var (results, _) = RoutedEvaluation.Run(f["router"], f["out/router"], f["tasks/alpha.csv"]);
        Assert.That(results.FirstTask!.Rows, Is.EqualTo(6));
    }
}
