using System.Diagnostics;
using LlmMerge.Core;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Zoo;

/// <summary>Next-token training of a zoo model on documents drawn from a seeded stream.</summary>
public static class ZooTrainer
{
    /// <summary>
    /// Trains <paramref name="trainable"/> (all parameters, or only LoRA factors) for <paramref name="schedule"/>;
    /// reports the mean loss of each stretch of steps through <paramref name="log"/>. Returns the final stretch's mean loss.
    /// </summary>
    public static double Train(DecoderForCausalLM model, IReadOnlyList<TorchSharp.Modules.Parameter> trainable, HfTokenizer tokenizer,
        Func<Random, ZooDocument> draw, TrainingSchedule schedule, int seed, string phase, Action<string>? log)
    {
        int padId = tokenizer.PadTokenId ?? throw new LlmMergeException("the zoo tokenizer has no pad token");
        var rng = new Random(seed);
        model.train();
        using var optimizer = optim.AdamW(trainable, schedule.LearningRate, weight_decay: schedule.WeightDecay);
        var clock = Stopwatch.StartNew();
        double lossSum = 0, lastMean = double.NaN;
        long tokens = 0;
        int stretch = Math.Max(1, schedule.Steps / 10), inStretch = 0;
        for (int step = 0; step < schedule.Steps; step++)
        {
            using var scope = NewDisposeScope();
            foreach (var group in optimizer.ParamGroups)
                group.LearningRate = schedule.LearningRateAt(step);
            var docs = Enumerable.Range(0, schedule.BatchSize).Select(_ => draw(rng)).ToList();
            var (inputs, targets) = ZooBatch.Make(tokenizer, docs, padId);
            tokens += inputs.numel();
            var logits = model.forward(inputs);
            var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1), ignore_index: ZooBatch.Ignore);
            optimizer.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(trainable, 1.0);
            optimizer.step();
            lossSum += loss.item<float>();
            if (++inStretch == stretch || step == schedule.Steps - 1)
            {
                lastMean = lossSum / inStretch;
                log?.Invoke($"{phase}: step {step + 1}/{schedule.Steps}  loss {lastMean:F3}  {tokens / clock.Elapsed.TotalSeconds:F0} tokens/s");
                lossSum = 0;
                inStretch = 0;
            }
        }
        model.eval();
        return lastMean;
    }
}
