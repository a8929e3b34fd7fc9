using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Search;

/// <summary>Prints YAML nodes in one canonical form (as the graph's normalised recipes), so equal recipes hash equal.</summary>
public static class YamlText
{
    public static string Of(YamlNode root)
    {
        var stream = new YamlStream(new YamlDocument(root));
        using var writer = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        stream.Save(writer, assignAnchors: false);
        string text = writer.ToString();
        // YamlDotNet ends a document with "...": a recipe file reads better without it.
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }
}
