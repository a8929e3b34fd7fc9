namespace LlmMerge.Eval.Scoring;

/// <summary>What one <c>eval</c> run does: which tasks, which outputs, and how rows are prompted and scored.</summary>
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

    /// <summary>Most new tokens per competition-CSV generation row.</summary>
    public int MaxGenLen { get; init; } = GenerationScorer.DefaultMaxGenLen;

    /// <summary>Device the model runs on (recorded in RESULTS.json).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// lm-eval's <c>--apply_chat_template</c>: null renders plain text; "" the tokenizer's chat template; a name one of
    /// its named templates (or a template file, or a built-in name).
    /// </summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Few-shot examples as earlier chat turns; null means lm-eval's default (on with a chat template).</summary>
    public bool? FewshotAsMultiturn { get; init; }

    /// <summary>lm-eval's <c>--system_instruction</c>: put before the description, in the system message.</summary>
    public string? SystemInstruction { get; init; }

    /// <summary>Rows per model call: their contexts run in one padded batch (1: one row at a time).</summary>
    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>Seed of sampled generations (each row and repeat draws from its own stream of it).</summary>
    public ulong Seed { get; init; } = 1234;

    /// <summary>The rows per batch when none is asked for.</summary>
    public const int DefaultBatchSize = 16;
}
