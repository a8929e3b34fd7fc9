namespace LlmMerge.Search;

/// <summary>How <c>llmmerge evolve</c> runs; null settings fall back to the genome's <c>search</c> block, then mergekit-evolve's defaults.</summary>
public sealed record EvolveOptions
{
    public required string GenomePath { get; init; }

    public required string StoragePath { get; init; }

    /// <summary>mergekit's --max-fevals (default 100).</summary>
    public int? MaxFevals { get; init; }

    /// <summary>mergekit's --sigma0 (default 1/6).</summary>
    public double? Sigma0 { get; init; }

    /// <summary>Seeds CMA-ES and the random merge methods (mergekit's --random-seed, default 0).</summary>
    public ulong? RandomSeed { get; init; }

    /// <summary>mergekit's --force-population-size; null is pycma's 4 + ⌊3 ln n⌋.</summary>
    public int? Popsize { get; init; }

    public IReadOnlyList<string> TaskSearchPaths { get; init; } = [];

    public string Device { get; init; } = "cpu";

    /// <summary>Candidates merged and scored at once, each job with its own resident model; null is one per core.</summary>
    public int? Jobs { get; init; }

    /// <summary>Where candidates are scored, given the prepared genome; null is <see cref="Candidates.LocalCandidateScorer"/> with <see cref="Jobs"/> resident models.</summary>
    public Func<PreparedSearch, Candidates.ICandidateScorer>? CandidateScorer { get; init; }

    /// <summary>mergekit's --save-final-model.</summary>
    public bool SaveFinalModel { get; init; } = true;

    /// <summary>Progress lines (standard error); null for none.</summary>
    public TextWriter? Progress { get; init; }
}
