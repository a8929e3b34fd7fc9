using System.Text;
using LlmMerge.Core.Recipes;

namespace LlmMerge.Engine.Execution;

/// <summary>Writes the merged model's README.md in the style of mergekit's model cards, recipe included.</summary>
public static class ModelCard
{
    public static string Render(MergePlan plan, string modelName)
    {
        var recipe = plan.Recipe;
        var models = recipe.ReferencedModels().ToList();
        var sb = new StringBuilder();
        sb.AppendLine("---");
        sb.AppendLine("base_model:");
        foreach (var m in models)
            sb.AppendLine($"- {m}");
        sb.AppendLine("library_name: transformers");
        sb.AppendLine("tags:");
        sb.AppendLine("- mergekit");
        sb.AppendLine("- llmmerge");
        sb.AppendLine("- merge");
        sb.AppendLine("---");
        sb.AppendLine($"# {modelName}");
        sb.AppendLine();
        sb.AppendLine("This is a merge of pre-trained language models created with LlmMergePipeline (`llmmerge merge`), which reads mergekit's recipes.");
        sb.AppendLine();
        sb.AppendLine("## Merge Details");
        sb.AppendLine("### Merge Method");
        sb.AppendLine();
        string method = plan.Method.ReferenceUrl is { } url ? $"[{plan.Method.PrettyName}]({url})" : plan.Method.PrettyName;
        sb.AppendLine(recipe.BaseModel is { } b
            ? $"This model was merged using the {method} merge method using {b} as a base."
            : $"This model was merged using the {method} merge method.");
        sb.AppendLine();
        sb.AppendLine("### Models Merged");
        sb.AppendLine();
        sb.AppendLine("The following models were included in the merge:");
        foreach (var m in models.Where(m => m != recipe.BaseModel))
            sb.AppendLine($"* {m}");
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
