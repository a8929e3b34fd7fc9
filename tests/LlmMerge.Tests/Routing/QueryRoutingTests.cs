using LlmMerge.Core.SafeTensors;
using LlmMerge.Eval.Routing;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Routing;

/// <summary>
/// Query routing: prototypes as mergekit-moe's gates from the reference's hidden states, each row to the expert whose
/// prototype is closest by cosine as worked out by hand, and every routed row scored exactly as its expert scores it alone.
/// </summary>
public class QueryRoutingTests
{
    private const int Layer = 1;

    private static double[] Normalized(double[] v)
    {
        double n = Math.Max(Math.Sqrt(v.Sum(x => x * x)), 1e-8);
        return v.Select(x => x / n).ToArray();
    }

    private static double Cosine(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum() / Math.Sqrt(a.Sum(x => x * x) * b.Sum(x => x * x));

    [Test]
    public void RowsGoToTheClosestPrototypeAndScoreAsTheirExpertAlone()
    {
        using var f = new RoutingFixture(layers: 3);
        string config = f.WriteConfig("router.yml", $"""
            base_model: models/base
            gate_mode: hidden
            layer: {Layer}
            experts:
              - name: alpha
                source_model: models/alpha
                positive_prompts: ["{RoutingFixture.AlphaQuestions[0].Replace("\n", "\\n", StringComparison.Ordinal)}", "{RoutingFixture.AlphaQuestions[1].Replace("\n", "\\n", StringComparison.Ordinal)}"]
                negative_prompts: ["{RoutingFixture.BetaQuestions[0]}"]
              - name: beta
                source_model: models/beta
                prompt_tasks:
                  - file: tasks/beta.csv
                    limit: 3
            """);
        var manifest = new RouterBuilder().Build(RouteConfig.ParseFile(config), f["router"]);
        Assert.That(manifest.Kind, Is.EqualTo(RoutingKind.Query));
        Assert.That(manifest.Layer, Is.EqualTo(Layer));

        // Prototypes by hand: last-token states entering the layer, mean of positives minus mean of negatives, normalized.
        var reference = new ReferenceDecoder(f.Models["base"]);
        double[] State(string text) => reference.LayerInputs(f.PromptIds(text))[Layer][^1];
        double[] Mean(IEnumerable<string> texts)
        {
            var states = texts.Select(State).ToList();
            return Enumerable.Range(0, states[0].Length).Select(i => states.Average(s => s[i])).ToArray();
        }
        var alphaMean = Mean(RoutingFixture.AlphaQuestions.Take(2));
        var negative = State(RoutingFixture.BetaQuestions[0]);
        double[][] prototypes =
        [
            Normalized(alphaMean.Select((x, i) => x - negative[i]).ToArray()),
            Normalized(Mean(RoutingFixture.BetaQuestions.Take(3))),
        ];
        using (var file = SafetensorsFile.Open(f["router/router.safetensors"]))
        {
            var info = file.GetInfo("prototypes");
            Assert.That(info.Shape, Is.EqualTo(new long[] { 2, f.Shape.Hidden }));
            var stored = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.GetBytes(info)).ToArray();
            for (int e = 0; e < 2; e++)
                for (int i = 0; i < f.Shape.Hidden; i++)
                    Assert.That(stored[e * f.Shape.Hidden + i], Is.EqualTo(prototypes[e][i]).Within(1e-4), $"prototype {e}[{i}]");
        }

        string alpha = f["tasks/alpha.csv"], beta = f["tasks/beta.csv"];
        var (results, routed) = RoutedEvaluation.Run(f["router"], f["out/router"], alpha, beta);
        var alone = new Dictionary<string, List<RoutedEvaluation.Sample>>
        {
            ["alpha"] = RoutedEvaluation.Run(f.ModelDir("alpha"), f["out/alpha"], alpha, beta).Samples,
            ["beta"] = RoutedEvaluation.Run(f.ModelDir("beta"), f["out/beta"], alpha, beta).Samples,
        };
        var contexts = RoutingFixture.AlphaQuestions.Concat(RoutingFixture.BetaQuestions).ToList();
        Assert.That(routed, Has.Count.EqualTo(contexts.Count));
        var counts = new Dictionary<string, Dictionary<string, int>>();
        for (int r = 0; r < routed.Count; r++)
        {
            var q = State(contexts[r]);
            double a = Cosine(q, prototypes[0]), b = Cosine(q, prototypes[1]);
            Assume.That(Math.Abs(a - b), Is.GreaterThan(1e-6), "a near tie would make the hand computation ambiguous");
            string expected = b > a ? "beta" : "alpha";
            Assert.That(routed[r].Expert, Is.EqualTo(expected), $"row {r} ({routed[r].Task} {routed[r].Id}): cos alpha {a}, beta {b}");
            var own = alone[expected][r];
            Assert.That((own.Task, own.Id), Is.EqualTo((routed[r].Task, routed[r].Id)));
            // Rows are scored in padded batches, and a routed expert's batch holds only its own rows, so the float
            // rounding may differ from the whole task's batches in the last digits.
            Assert.That(routed[r].LogLikelihoods, Is.EqualTo(own.LogLikelihoods).Within(1e-5), $"row {r}: scored as {expected} alone");
            Assert.That(routed[r].Prediction, Is.EqualTo(own.Prediction));
            if (!counts.TryGetValue(routed[r].Task, out var c)) counts[routed[r].Task] = c = new() { ["alpha"] = 0, ["beta"] = 0 };
            c[expected]++;
        }
        Assert.That(counts.Values.Sum(c => c["alpha"]), Is.GreaterThan(0), "the fixture routes some rows to each expert");
        Assert.That(counts.Values.Sum(c => c["beta"]), Is.GreaterThan(0), "the fixture routes some rows to each expert");
        foreach (var (task, c) in counts)
            Assert.That(results.Task(task)!.RoutedRows, Is.EquivalentTo(c), $"routed_rows of {task}");
        Assert.That(results.Task("alpha")!.Accuracy, Is.EqualTo(routed.Take(6).Select((s, i) => s.Prediction == i % 2 ? 1.0 : 0.0).Average()).Within(1e-12));
    }

    [Test]
    public void TheCardAndManifestNameEveryExpertWithAFingerprint()
    {
        using var f = new RoutingFixture(layers: 2);
        string config = f.WriteConfig("router.yml", """
            base_model: models/base
            gate_mode: hidden_avg
            experts:
              - source_model: models/alpha
                positive_prompts: ["Is the sky blue?"]
              - source_model: models/beta
                positive_prompts: ["The cat sat on the mat."]
            """);
        new RouterBuilder().Build(RouteConfig.ParseFile(config), f["router"]);
        var manifest = RouterManifest.Read(f["router"]);
        Assert.That(manifest.Layer, Is.EqualTo(1), "by default the state entering the last layer");
        Assert.That(manifest.Experts.Select(e => e.Name), Is.EqualTo(new[] { "alpha", "beta" }), "names default to the folders'");
        Assert.That(manifest.Experts[0].Path, Is.EqualTo("../models/alpha"), "paths are relative to the router folder");
        Assert.That(manifest.Experts[0].Fingerprint, Is.EqualTo(ModelFingerprint.Of(f.ModelDir("alpha"))));
        Assert.That(File.ReadAllText(f["router/README.md"]), Does.Contain("alpha").And.Contain("mean over the query's tokens"));
        Assert.That(File.Exists(f["router/tokenizer.json"]), "the base's tokenizer travels with the router");

        // An expert that changed after the router was built is refused, naming it.
        File.AppendAllText(Path.Combine(f.ModelDir("beta"), "config.json"), " ");
        var (exit, _, err) = CliRunner.Run("eval", f["router"], "--tasks", f["tasks/alpha.csv"], "--output", f["out/RESULTS.json"], "--quiet");
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(err.Trim(), Does.Contain("expert 'beta'").And.Contain("changed since the router was built"));
        Assert.That(err.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(File.Exists(f["out/RESULTS.json"]), Is.False);
    }
}
