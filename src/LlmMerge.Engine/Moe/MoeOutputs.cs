using LlmMerge.Core;

namespace LlmMerge.Engine.Moe;

/// <summary>
/// The output architectures and the choice among them, as mergekit-moe's select_output_arch (mergekit/scripts/moe.py at
/// a6e40288): an <c>architecture</c> key keeps those whose name starts with it; Mixtral wins where it fits, else the
/// first that does, in mergekit's order (Mixtral, DeepSeek MoE, Qwen MoE, Qwen3 MoE). DeepSeek MoE and Qwen3 MoE are
/// not implemented here: a recipe mergekit would send to them is refused by name.
/// </summary>
internal static class MoeOutputs
{
    private static readonly string[] MergekitNames = ["Mixtral", "DeepSeek MoE", "Qwen MoE", "Qwen3 MoE"];

    private static readonly IMoeOutput[] Implemented = [new MixtralOutput(), new QwenMoeOutput()];

    public static IMoeOutput Select(MoeInputs inputs)
    {
        var recipe = inputs.Recipe;
        string file = recipe.FileName;
        if (recipe.Architecture is { } wanted)
        {
            var named = MergekitNames.Where(n => n.StartsWith(wanted, StringComparison.OrdinalIgnoreCase)).ToList();
            if (named.Count == 0)
                throw new LlmMergeException($"{file}: unknown architecture '{wanted}'; use mixtral or qwen (mergekit's names: {string.Join(", ", MergekitNames)})");
            var ours = Implemented.Where(o => named.Contains(o.Name)).ToList();
            if (ours.Count == 0)
                throw new LlmMergeException($"{file}: architecture '{wanted}' ({string.Join(", ", named)}) is not implemented here; use mixtral or qwen");
            return ours.FirstOrDefault(o => o.WhyNot(inputs) is null)
                ?? throw new LlmMergeException($"{file}: architecture {wanted}: {ours[0].WhyNot(inputs)}");
        }
        var mixtral = Implemented[0];
        var qwen = Implemented[1];
        string? whyNotMixtral = mixtral.WhyNot(inputs);
        if (whyNotMixtral is null)
            return mixtral;
        if (DeepSeekWouldTake(inputs))
            throw new LlmMergeException($"{file}: mergekit would write these models as DeepSeek MoE (a shared expert without prompts), which is not implemented here; give the shared expert positive_prompts and set architecture: qwen");
        string? whyNotQwen = qwen.WhyNot(inputs);
        if (whyNotQwen is null)
            return qwen;
        throw new LlmMergeException($"{file}: no output architecture fits: {(recipe.SharedExperts is { Count: > 0 } ? whyNotQwen : whyNotMixtral)}");
    }

    // mergekit's DeepseekMoE.supports_config: at most one shared expert, without prompts, over Llama or Mistral models of one type.
    private static bool DeepSeekWouldTake(MoeInputs inputs)
    {
        var shared = inputs.Recipe.SharedExperts ?? [];
        if (shared.Count > 1 || shared.Any(s => s.PositivePrompts is { Count: > 0 } || s.NegativePrompts is { Count: > 0 }))
            return false;
        return inputs.BaseType is "llama" or "mistral" && inputs.AllExperts().All(e => MoeInputs.ModelType(e.Source) == inputs.BaseType);
    }
}
