namespace LlmMerge.Eval.Scoring;

/// <summary>What one <c>eval</c> run does: which tasks, which outputs, and how rows are scored.</summary>
public sealed record EvalOptions
{
    /// <summary>Task files: competition CSVs or lm-eval task YAMLs.</summary>
    public required IReadOnlyList<string> Tasks { get; init; }

    /// <summary>Where RESULTS.json goes.</summary>
    public required string OutputPath { get; init; }

    /// <summary>Where SAMPLES.jsonl goes, or null for none.</summary>
    public string? SamplesPath { get; init; }

    /// <summary>Where the competition submission CSV (<c>id,prediction</c>) goes, or null for none.</summary>
    public string? SubmissionPath { get; init; }

    /// <summary>Score only the first N rows of each task.</summary>
    public int? Limit { get; init; }

    /// <summary>lm-eval's or the starter kit's multiple-choice scoring.</summary>
    public ScoringMode Scoring { get; init; } = ScoringMode.LmEval;

    /// <summary>Few-shot examples for task YAMLs, over their num_fewshot.</summary>
    public int? NumFewshot { get; init; }

    /// <summary>Most new tokens per generation row.</summary>
    public int MaxGenLen { get; init; } = GreedyGenerator.DefaultMaxGenLen;

    /// <summary>Device the model runs on (recorded in RESULTS.json).</summary>
    public string Device { get; init; } = "cpu";
}
