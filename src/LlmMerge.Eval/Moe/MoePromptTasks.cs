using System.Globalization;
using LlmMerge.Core;
using LlmMerge.Eval.Routing;
using LlmMerge.Eval.Tasks;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Eval.Moe;

/// <summary>
/// <c>prompt_tasks</c> in a mergekit-moe recipe (ours, as in a router config): per expert, task files whose rows'
/// contexts (the text evaluation encodes before the choices) become positive prompts, <c>{file, limit}</c> taking the
/// first <c>limit</c> rows. They are written into the recipe as <c>positive_prompts</c> after the expert's own, and the
/// key removed, so the engine, the model card and the saved mergekit_moe_config.yml see a plain mergekit-moe recipe
/// (mergekit itself can rebuild the mixture from it). Point them at validation splits: the prompts are the gate.
/// </summary>
public static class MoePromptTasks
{
    /// <summary>The recipe with every prompt_tasks entry expanded; the text unchanged when it has none.</summary>
    /// <param name="text">The recipe's YAML.</param>
    /// <param name="fileName">The recipe's file, for messages.</param>
    /// <param name="searchDirs">Where relative task files are looked up (the working directory, the recipe's folder).</param>
    public static string Expand(string text, string fileName, IReadOnlyList<string> searchDirs)
    {
        if (!text.Contains("prompt_tasks", StringComparison.Ordinal))
            return text;
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e) { throw new LlmMergeException($"{fileName}:{e.Start.Line}: not valid YAML: {e.Message}", e); }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            return text; // the recipe parser says what is wrong
        bool changed = false;
        foreach (string list in new[] { "experts", "shared_experts" })
        {
            if (!root.Children.TryGetValue(new YamlScalarNode(list), out var node) || node is not YamlSequenceNode experts)
                continue;
            for (int i = 0; i < experts.Children.Count; i++)
            {
                if (experts.Children[i] is YamlMappingNode expert && expert.Children.TryGetValue(new YamlScalarNode("prompt_tasks"), out var tasks))
                {
                    Expand(fileName, $"{list}[{i}]", expert, tasks, searchDirs);
                    changed = true;
                }
            }
        }
        if (!changed)
            return text;
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        stream.Save(writer, assignAnchors: false);
        string saved = writer.ToString();
        // YamlStream ends a document with "...": harmless, but not what a recipe looks like.
        return saved.EndsWith("...\n", StringComparison.Ordinal) ? saved[..^4] : saved;
    }

    private static void Expand(string fileName, string where, YamlMappingNode expert, YamlNode tasks, IReadOnlyList<string> searchDirs)
    {
        if (tasks is not YamlSequenceNode seq)
            throw Error(fileName, tasks, $"{where}.prompt_tasks must be a list of task files (or of {{file, limit}})");
        var prompts = new List<string>();
        foreach (var entry in seq.Children)
        {
            string? file = (entry as YamlScalarNode)?.Value;
            int? limit = null;
            if (entry is YamlMappingNode m)
            {
                foreach (var k in m.Children.Keys)
                {
                    if ((k as YamlScalarNode)?.Value is not ("file" or "limit"))
                        throw Error(fileName, k, $"{where}.prompt_tasks: unknown key '{(k as YamlScalarNode)?.Value}'; an entry takes file and limit");
                }
                file = m.Children.TryGetValue(new YamlScalarNode("file"), out var f) ? (f as YamlScalarNode)?.Value : null;
                if (m.Children.TryGetValue(new YamlScalarNode("limit"), out var l))
                {
                    limit = l is YamlScalarNode { Value: { } lv } && int.TryParse(lv, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 1 ? n
                        : throw Error(fileName, l, $"{where}.prompt_tasks limit must be a whole number of at least 1");
                }
            }
            if (string.IsNullOrEmpty(file))
                throw Error(fileName, entry, $"{where}.prompt_tasks: an entry is a task file or {{file: PATH, limit: N}}");
            string path = RouterBuilder.FindFile(file, searchDirs, $"{fileName}: {where}.prompt_tasks");
            var rows = TaskLoader.Load(path).Rows;
            foreach (var row in limit is int take ? rows.Take(take) : rows)
                prompts.Add(row.Context);
        }
        if (prompts.Count == 0)
            throw Error(fileName, tasks, $"{where}.prompt_tasks gives no rows");
        if (!expert.Children.TryGetValue(new YamlScalarNode("positive_prompts"), out var existing) || existing is not YamlSequenceNode positive)
        {
            positive = new YamlSequenceNode();
            expert.Children[new YamlScalarNode("positive_prompts")] = positive;
        }
        foreach (string p in prompts)
            positive.Add(new YamlScalarNode(p) { Style = ScalarStyle.DoubleQuoted });
        expert.Children.Remove(new YamlScalarNode("prompt_tasks"));
    }

    private static LlmMergeException Error(string file, YamlNode node, string what) => new($"{file}:{node.Start.Line}: {what}");
}
