namespace LlmMerge.Eval.Scoring;

/// <summary>How multiple-choice rows are turned into token sequences and scored.</summary>
public enum ScoringMode
{
    /// <summary>lm-evaluation-harness: context with BOS, continuation = target delimiter + choice, split from the joint encoding.</summary>
    LmEval,

    /// <summary>The NeurIPS 2024 LLM Merging competition starter kit: each choice encoded alone with EOS and no BOS, its first token unscored.</summary>
    StarterKit,
}
