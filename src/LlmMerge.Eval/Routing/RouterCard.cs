using System.Globalization;
using System.Text;

namespace LlmMerge.Eval.Routing;

/// <summary>The routed system's README.md: what it routes, how, and which experts it needs where.</summary>
public static class RouterCard
{
    public static string Write(RouterManifest manifest, RouteConfig config)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(config);
        var md = new StringBuilder();
        md.Append("# Routed system\n\n");
        md.Append(manifest.Kind switch
        {
            RoutingKind.Query => $"Each query goes through the base `{manifest.Base.Path}` once; its hidden state entering layer {manifest.Layer} "
                + $"({(manifest.GateMode == "hidden_avg" ? "mean over the query's tokens" : manifest.GateMode == "cheap_embed" ? "cheap_embed: summed token embeddings" : "last token")}) "
                + "is compared by cosine with each expert's prototype (the normalized mean of its prompts' states, minus its negative prompts', as mergekit-moe's gates), and the closest expert scores the row.\n\n",
            RoutingKind.Task => "Every row of a task goes to the expert with the best validation accuracy on that task (the first listed among equals).\n\n",
            _ => $"Arrow routing (Ostapenko et al. 2024) over LoRA adapters of `{manifest.Base.Path}`: inside every adapted projection, each token picks "
                + $"its top {manifest.TopK} adapters by |x·v| against their prototypes (the top right singular vector of B·A) and mixes their updates by softmax (temperature {manifest.Temperature.ToString(CultureInfo.InvariantCulture)}).\n\n",
        });
        md.Append("`llmmerge eval` scores this folder like a model. It holds no expert weights: `router.json` names each expert by path (relative to this folder) "
            + "or Hub repository and commit, with the fingerprint it had when the router was built; evaluation refuses an expert whose files changed. "
            + "Where a path does not resolve (a copied or unpacked folder), put the expert in `experts/<name>/` beside `router.json`.\n\n");
        md.Append("| expert | where | fingerprint |\n| --- | --- | --- |\n");
        foreach (var e in manifest.Experts.Prepend(manifest.Base))
            md.Append(CultureInfo.InvariantCulture, $"| {e.Name} | {(e.Repo is null ? $"`{e.Path}`" : $"{e.Repo}@{e.Revision}")} | `{e.Fingerprint[..16]}` |\n");
        if (manifest.Kind == RoutingKind.Task)
        {
            md.Append("\n| task | expert | validation | validation acc |\n| --- | --- | --- | --- |\n");
            foreach (var t in manifest.Tasks)
                md.Append(CultureInfo.InvariantCulture, $"| {t.Task} | {t.Expert} | `{t.ValidationFile}` | {string.Join(", ", t.Scores.Select(s => $"{s.Key} {s.Value:F3}"))} |\n");
        }
        md.Append("\n## Config\n\n```yaml\n").Append(File.Exists(config.Path) ? File.ReadAllText(config.Path).TrimEnd() : "").Append("\n```\n");
        return md.ToString();
    }
}
