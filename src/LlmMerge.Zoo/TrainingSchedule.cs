namespace LlmMerge.Zoo;

/// <summary>How long and how fast one training phase runs: AdamW with linear warm-up and cosine decay to a tenth.</summary>
public sealed record TrainingSchedule(int Steps, int BatchSize, double LearningRate, double WeightDecay = 0.01, double WarmupFraction = 0.05)
{
    /// <summary>The learning rate at <paramref name="step"/> (0-based).</summary>
    public double LearningRateAt(int step)
    {
        int warmup = Math.Max(1, (int)(Steps * WarmupFraction));
        if (step < warmup)
            return LearningRate * (step + 1) / warmup;
        double progress = (double)(step - warmup) / Math.Max(1, Steps - warmup);
        return LearningRate * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
