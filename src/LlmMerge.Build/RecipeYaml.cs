using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Build;

/// <summary>Copies and prints the YAML of normalised recipes in one canonical form, so equal recipes hash equal.</summary>
internal static class RecipeYaml
{
    public static YamlNode Clone(YamlNode node) => node switch
    {
        YamlScalarNode s => new YamlScalarNode(s.Value) { Style = s.Style },
        YamlSequenceNode q => new YamlSequenceNode(q.Children.Select(Clone)) { Style = q.Style },
        YamlMappingNode m => new YamlMappingNode(m.Children.Select(kv => new KeyValuePair<YamlNode, YamlNode>(Clone(kv.Key), Clone(kv.Value)))),
        _ => throw new InvalidOperationException($"unexpected YAML node {node.NodeType}"),
    };

    public static string ToYaml(YamlNode root)
    {
        var stream = new YamlStream(new YamlDocument(root));
        using var writer = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        stream.Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    /// <summary>
    /// A Config= recipe with every model reference replaced: graph names by <paramref name="reference"/>, other paths
    /// (relative to the recipe) by <paramref name="folder"/> of their full path.
    /// </summary>
    public static YamlMappingNode WithModels(StepNode step, Func<string, string> reference, Func<string, string> folder)
    {
        var copy = (YamlMappingNode)Clone(step.Config!);
        string dir = Path.GetDirectoryName(step.ConfigFile)!;
        foreach (var (parent, key, value) in MergeGraph.ModelReferences(copy, step.Kind.ModelKeys))
        {
            string name = value.Value ?? "";
            MergeGraph.Replace(parent, key, step.Inputs.Contains(name) ? reference(name) : folder(Path.GetFullPath(Path.Combine(dir, name))));
        }
        return copy;
    }
}
