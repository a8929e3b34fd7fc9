namespace LlmMerge.Contracts.Moe;

/// <summary>
/// The words of a mergekit-moe recipe that a graph checks before running <c>llmmerge moe</c> (mergekit/moe/config.py
/// and router.py at a6e40288); the engine's recipe parser uses these same lists.
/// </summary>
public static class MoeRecipeVocabulary
{
    /// <summary>The gate modes of mergekit-moe's get_gate_params.</summary>
    public static IReadOnlyList<string> GateModes { get; } = ["hidden", "hidden_avg", "hidden_last", "cheap_embed", "random", "uniform_random"];

    /// <summary>The <c>architecture</c> values llmmerge writes (prefixes of mergekit's output names Mixtral and Qwen MoE).</summary>
    public static IReadOnlyList<string> Architectures { get; } = ["mixtral", "qwen"];

    /// <summary>Keys whose values name a model: the base and each expert's source.</summary>
    public static IReadOnlyList<string> ModelKeys { get; } = ["base_model", "source_model"];
}
