namespace LlmMerge.Evaluation.Modeling;

/// <summary>Loads a Hugging Face causal language model folder as an <see cref="ICausalLanguageModel"/>.</summary>
/// <remarks>
/// PLACEHOLDER: the TorchSharp forward pass is written on another branch and replaces this file at merge.
/// It exists so the <c>eval</c> verb compiles and can be tested with an injected model.
/// </remarks>
public static class CausalLmLoader
{
    /// <summary>Loads the model in <paramref name="modelDir"/> on <paramref name="device"/> computing in <paramref name="dtype"/>.</summary>
    public static ICausalLanguageModel Load(string modelDir, string device = "cpu", string dtype = "float32") =>
        throw new NotImplementedException("CausalLmLoader is a placeholder until the TorchSharp forward pass lands.");
}
