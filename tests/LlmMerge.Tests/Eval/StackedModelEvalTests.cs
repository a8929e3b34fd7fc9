using LlmMerge.Modeling;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Eval;

/// <summary>A frankenmerge (layers 0-3 of one model, 2-5 of another) loads in the forward pass and computes as the stack it claims to be.</summary>
public class StackedModelEvalTests
{
    [Test]
    public void StackedModelScoresAsItsLayersSay()
    {
        using var dir = new TempDir();
        var four = new TinyDecoder(new TinyDecoderShape { Layers = 4 }, seed: 41);
        var six = new TinyDecoder(new TinyDecoderShape { Layers = 6 }, seed: 61);
        four.Write(dir["four"]);
        six.Write(dir["six"]);
        File.WriteAllText(dir["stack.yml"], Merging.StackingTests.Stacked.Replace("SCALE", "", StringComparison.Ordinal));
        var (exit, _, err) = CliRunner.Run("merge", dir["stack.yml"], dir["out"], "--quiet");
        Assert.That(exit, Is.EqualTo(0), err);

        // The expected model, assembled by hand: embeddings from the first slice, the norm and head from the last.
        var expected = new TinyDecoder(new TinyDecoderShape { Layers = 8 }, seed: 0);
        expected.Weights.Clear();
        expected.Weights["model.embed_tokens.weight"] = four.Weights["model.embed_tokens.weight"];
        expected.Weights["model.norm.weight"] = six.Weights["model.norm.weight"];
        expected.Weights["lm_head.weight"] = six.Weights["lm_head.weight"];
        foreach (var (name, w) in four.Weights.Where(kv => kv.Key.StartsWith("model.layers.", StringComparison.Ordinal)))
            expected.Weights[name] = w;
        foreach (var (name, w) in six.Weights.Where(kv => kv.Key.StartsWith("model.layers.", StringComparison.Ordinal)))
        {
            int layer = int.Parse(name.Split('.')[2], System.Globalization.CultureInfo.InvariantCulture);
            if (layer >= 2)
                expected.Weights[name.Replace($"model.layers.{layer}.", $"model.layers.{layer + 2}.", StringComparison.Ordinal)] = w;
        }

        int[] context = [3, 17, 5, 29];
        int[][] choices = [[7, 1], [12, 33, 1]];
        using var model = CausalLmLoader.Load(dir["out"]);
        var scores = model.ScoreContinuations(context, choices);
        var reference = new ReferenceDecoder(expected);
        for (int c = 0; c < choices.Length; c++)
        {
            int[] all = [.. context, .. choices[c]];
            var lp = reference.LogProbs(all);
            double want = 0;
            for (int k = 0; k < choices[c].Length; k++)
                want += lp[context.Length - 1 + k][choices[c][k]];
            Assert.That(scores[c].LogLikelihood, Is.EqualTo(want).Within(1e-4 * Math.Abs(want)), $"choice {c}");
        }
    }
}
