namespace LlmMerge.Zoo;

/// <summary>What the zoo generator makes and how long it trains; the defaults are the committed zoo's.</summary>
public sealed record ZooOptions
{
    /// <summary>Folder that receives base/, expert-*/, lora-*/, multitask/ and manifest.json.</summary>
    public required string ModelsDir { get; init; }

    /// <summary>Folder that receives one folder of task files per skill.</summary>
    public required string TasksDir { get; init; }

    public int Seed { get; init; } = 1234;

    public int VocabSize { get; init; } = 512;

    public TrainingSchedule Pretraining { get; init; } = new(Steps: 1200, BatchSize: 64, LearningRate: 3e-3);

    public TrainingSchedule Expert { get; init; } = new(Steps: 600, BatchSize: 64, LearningRate: 1e-3);

    public TrainingSchedule MultiTask { get; init; } = new(Steps: 1500, BatchSize: 64, LearningRate: 1e-3);

    public TrainingSchedule Lora { get; init; } = new(Steps: 600, BatchSize: 64, LearningRate: 3e-3, WeightDecay: 0);

    /// <summary>Skills that also get a rank-8 LoRA expert.</summary>
    public IReadOnlyList<string> LoraSkills { get; init; } = ["comparison", "reversal"];

    public int LoraRank { get; init; } = 8;

    public int LoraAlpha { get; init; } = 16;

    public int ValidationItems { get; init; } = 100;

    public int TestItems { get; init; } = 200;

    /// <summary>Multiplies every phase's steps (a smoke test runs with a tiny scale).</summary>
    public double StepScale { get; init; } = 1.0;
}
