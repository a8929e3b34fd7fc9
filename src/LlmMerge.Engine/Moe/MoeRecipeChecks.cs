using LlmMerge.Core;

namespace LlmMerge.Engine.Moe;

/// <summary>
/// mergekit-moe's is_bad_config (mergekit/moe/config.py at a6e40288) and the shared-expert rules of its build(), as
/// one-line errors naming the expert and the key. Everything here needs only the recipe, so it runs before any model
/// is opened.
/// </summary>
internal static class MoeRecipeChecks
{
    public static void Check(MoeRecipe recipe, bool allowAllSame)
    {
        string file = recipe.FileName;
        if (recipe.ExpertsPerToken < 1)
            throw new LlmMergeException($"{file}: experts_per_token must be at least 1 (got {recipe.ExpertsPerToken})");
        if (recipe.Experts.Count < recipe.ExpertsPerToken)
            throw new LlmMergeException($"{file}: experts_per_token is {recipe.ExpertsPerToken} but experts lists only {recipe.Experts.Count}; a token cannot go to more experts than there are");
        var shared = recipe.SharedExperts ?? [];
        if (shared.Count > 1)
            throw new LlmMergeException($"{file}: shared_experts lists {shared.Count} models; only one shared expert is supported (as in mergekit)");

        // mergekit skips the prompt checks for gate_mode random only; uniform_random, though it reads no prompts, is checked.
        if (recipe.GateMode != "random")
        {
            foreach (var e in recipe.Experts)
            {
                if (e.PositivePrompts is not { Count: > 0 })
                    throw new LlmMergeException($"{file}:{e.Line}: {e.Describe(false)} has no positive_prompts; gate_mode {recipe.GateMode} needs at least one prompt per expert (or use gate_mode: random)");
            }
            static string Prompts(MoeExpert e) => string.Join("\u0001", e.PositivePrompts ?? []) + "\u0002" + string.Join("\u0001", e.NegativePrompts ?? []);
            string first = Prompts(recipe.Experts[0]);
            if (recipe.Experts.Skip(1).All(e => Prompts(e) == first))
                throw new LlmMergeException($"{file}: the positive and negative prompts are identical for all experts{(recipe.Experts.Count == 1 ? " (there is one expert)" : "")}; this will not produce a functioning mixture: give each expert prompts of what it should receive");
        }
        if (!allowAllSame && recipe.Experts.Skip(1).All(e => e.SourceModel == recipe.Experts[0].SourceModel))
            throw new LlmMergeException($"{file}: every expert's source_model is {recipe.Experts[0].SourceModel}; that model uses more resources and computes what one copy does. Pass --i-understand-this-is-not-useful-without-training to build it for training");

    }
}
