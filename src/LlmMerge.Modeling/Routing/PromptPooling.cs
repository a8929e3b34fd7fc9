namespace LlmMerge.Modeling.Routing;

/// <summary>How a prompt's hidden states become one vector: mergekit-moe's <c>hidden</c> (last token) and <c>hidden_avg</c> (mean).</summary>
public enum PromptPooling
{
    /// <summary>The state at the prompt's last token (mergekit's <c>hidden</c> and <c>hidden_last</c>).</summary>
    LastToken,

    /// <summary>The mean over the prompt's tokens, BOS included (mergekit's <c>hidden_avg</c>).</summary>
    Mean,
}
