using System.Text.Json.Nodes;
using LlmMerge.Eval.Scoring;
using LlmMerge.Tests.Eval;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Moe;

/// <summary><c>llmmerge moe-routing</c>: the routers' choices per task, against the plain-loop reference's own top-k.</summary>
public class MoeRoutingTests
{
    [Test]
    public void SharesAreTheReferencesTopChoicesOverEveryTokenAndLayer()
    {
        using var dir = new TempDir();
        var tokenizer = EvalTokenizer.Write(dir["model"]);
        var tiny = new TinyDecoder(new TinyDecoderShape { Architecture = "MixtralForCausalLM", ModelType = "mixtral", Experts = 4, TopK = 2, Vocab = tokenizer.VocabSize }, seed: 31);
        tiny.Write(dir["model"]);
        File.WriteAllText(dir["task.csv"], "id,input,target,answer_choices,eval_type\n"
            + "0,\"Question: Is the sky blue?\nAnswer:\",0,\"['yes', 'no']\",multiple_choice\n"
            + "1,The cat sat on the,1,\"['log', 'mat']\",multiple_choice\n");
        var (exit, stdout, err) = CliRunner.Run("moe-routing", dir["model"], "--tasks", dir["task.csv"], "--output", dir["routing.json"]);
        Assert.That(exit, Is.Zero, err);
        Assert.That(stdout, Does.Contain("| task | tokens | expert 0 | expert 1 | expert 2 | expert 3 |"));

        var reference = new ReferenceDecoder(tiny);
        var first = new double[4];
        var any = new double[4];
        long tokens = 0;
        foreach (var (context, answer) in new[] { ("Question: Is the sky blue?\nAnswer:", " yes"), ("The cat sat on the", " mat") })
        {
            var (c, a) = LmEvalEncoding.EncodePair(tokenizer, context, answer);
            int[] ids = [.. c, .. a];
            tokens += ids.Length;
            var inputs = reference.MlpInputs(ids);
            for (int layer = 0; layer < tiny.Shape.Layers; layer++)
            {
                foreach (var x in inputs[layer])
                {
                    var routed = reference.RoutedExperts($"model.layers.{layer}.", x);
                    first[routed[0]]++;
                    foreach (int e in routed)
                        any[e]++;
                }
            }
        }
        double pairs = tokens * tiny.Shape.Layers;
        var json = JsonNode.Parse(File.ReadAllText(dir["routing.json"]))!["tasks"]![0]!;
        Assert.That(json["tokens"]!.GetValue<long>(), Is.EqualTo(tokens));
        for (int e = 0; e < 4; e++)
        {
            Assert.That(json["top_one"]![e]!.GetValue<double>(), Is.EqualTo(first[e] / pairs).Within(1e-12), $"expert {e} first");
            Assert.That(json["top_k"]![e]!.GetValue<double>(), Is.EqualTo(any[e] / pairs).Within(1e-12), $"expert {e} among the two");
        }
        Assert.That(first.Count(f => f > 0), Is.GreaterThan(1), "the routers do not send everything to one expert");
    }

    [Test]
    public void ADenseModelIsRefusedByName()
    {
        using var dir = new TempDir();
        var tokenizer = EvalTokenizer.Write(dir["model"]);
        new TinyDecoder(new TinyDecoderShape { Vocab = tokenizer.VocabSize }, seed: 1).Write(dir["model"]);
        File.WriteAllText(dir["task.csv"], "id,input,target,answer_choices,eval_type\n0,Is it,0,\"['yes', 'no']\",multiple_choice\n");
        var (exit, _, err) = CliRunner.Run("moe-routing", dir["model"], "--tasks", dir["task.csv"]);
        Assert.That(exit, Is.Not.Zero);
        Assert.That(err, Does.Contain("LlamaForCausalLM is not a mixture of experts"));
    }
}
