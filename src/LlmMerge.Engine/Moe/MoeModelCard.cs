using System.Text;

namespace LlmMerge.Engine.Moe;

/// <summary>The mixture's README.md: which models went where, and the recipe (mergekit-moe writes only the recipe, as mergekit_moe_config.yml).</summary>
internal static class MoeModelCard
{
    public static string Render(MoeRecipe recipe, string architecture, string modelName)
    {
        var sb = new StringBuilder();
        sb.AppendLine("---");
        sb.AppendLine("base_model:");
        foreach (var m in recipe.ReferencedModels())
            sb.AppendLine($"- {m}");
        sb.AppendLine("library_name: transformers");
        sb.AppendLine("tags:");
        sb.AppendLine("- mergekit");
        sb.AppendLine("- llmmerge");
        sb.AppendLine("- moe");
        sb.AppendLine("- merge");
        sb.AppendLine("---");
        sb.AppendLine($"# {modelName}");
        sb.AppendLine();
        sb.AppendLine($"This is a mixture of experts ({architecture}) made from dense models with LlmMergePipeline (`llmmerge moe`), which reads mergekit-moe's recipes.");
        sb.AppendLine();
        sb.AppendLine("## Mixture Details");
        sb.AppendLine();
        sb.AppendLine($"Attention, norms, embeddings and head come from {recipe.BaseModel}; each expert's feed-forward layers from its model. "
            + $"Each token goes to {recipe.ExpertsPerToken} of {recipe.Experts.Count} experts, chosen by routers initialised with gate mode `{recipe.GateMode}`.");
        sb.AppendLine();
        sb.AppendLine("### Experts");
        sb.AppendLine();
        foreach (var e in recipe.Experts)
            sb.AppendLine($"* expert {e.Index}: {e.SourceModel} ({e.PositivePrompts?.Count ?? 0} positive, {e.NegativePrompts?.Count ?? 0} negative prompts)");
        foreach (var e in recipe.SharedExperts ?? [])
            sb.AppendLine($"* shared expert: {e.SourceModel}");
        sb.AppendLine();
        sb.AppendLine("### Configuration");
        sb.AppendLine();
        sb.AppendLine("The following YAML configuration was used to produce this model:");
        sb.AppendLine();
        sb.AppendLine("```yaml");
        sb.AppendLine(recipe.SourceText.TrimEnd());
        sb.AppendLine("```");
        return sb.ToString();
    }
}
