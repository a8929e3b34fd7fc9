using System.Xml;
using System.Xml.Linq;
using Microsoft.Build.Framework;

namespace LlmMerge.Build;

/// <summary>Where an item was written: the file and line an error should point at.</summary>
internal readonly record struct ItemLocation(string File, int Line, int Column)
{
    public static readonly ItemLocation None = new("", 0, 0);
}

/// <summary>
/// Finds the line of an item's element. MSBuild gives tasks no line numbers, but every item carries the
/// well-known metadata DefiningProjectFullPath (the file whose XML created it); that file is read again with
/// line information and the element of the item's type whose Include names the item is taken. An Include
/// written with a property ($(X)) cannot be matched by text; the first such element of the type stands in.
/// </summary>
internal sealed class ItemLocator
{
    private readonly Dictionary<string, XDocument?> _documents = new(StringComparer.Ordinal);
    private readonly string _fallbackFile;

    public ItemLocator(string fallbackFile) => _fallbackFile = fallbackFile;

    /// <summary>The element's location, and the attribute's when <paramref name="attribute"/> is given and written there.</summary>
    public ItemLocation Locate(ITaskItem item, string itemType, string? attribute = null)
    {
        // Steps reach the tasks re-included by their kind's build/kinds/ file, which records where they were written.
        string file = item.GetMetadata("LlmMergeDefinedIn") is { Length: > 0 } original ? original : item.GetMetadata("DefiningProjectFullPath");
        if (string.IsNullOrEmpty(file))
            file = _fallbackFile;
        XElement? element = FindElement(file, itemType, item.ItemSpec);
        if (element is null)
            return new ItemLocation(file, 0, 0);
        IXmlLineInfo info = element;
        if (attribute is not null)
        {
            // Metadata may be an attribute or a child element; both carry their own line.
            IXmlLineInfo? where = (IXmlLineInfo?)element.Attributes().FirstOrDefault(a => Same(a.Name.LocalName, attribute))
                ?? element.Elements().FirstOrDefault(e => Same(e.Name.LocalName, attribute));
            if (where is not null && where.HasLineInfo())
                info = where;
        }
        return new ItemLocation(file, info.LineNumber, info.LinePosition);
    }

    private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private XElement? FindElement(string file, string itemType, string include)
    {
        if (!_documents.TryGetValue(file, out XDocument? doc))
        {
            try
            {
                doc = XDocument.Load(file, LoadOptions.SetLineInfo);
            }
            catch (Exception e) when (e is IOException or XmlException or UnauthorizedAccessException)
            {
                doc = null;
            }
            _documents[file] = doc;
        }
        if (doc?.Root is null)
            return null;
        var candidates = doc.Root.Descendants().Where(e => Same(e.Name.LocalName, itemType) && e.Attribute("Include") is not null).ToList();
        // An Include may list several items ("a;b"); the item's own name is one of them.
        return candidates.FirstOrDefault(e => e.Attribute("Include")!.Value.Split(';').Any(p => p.Trim() == include))
            ?? candidates.FirstOrDefault(e => e.Attribute("Include")!.Value.Contains("$(", StringComparison.Ordinal)
                                              || e.Attribute("Include")!.Value.Contains("@(", StringComparison.Ordinal));
    }
}
