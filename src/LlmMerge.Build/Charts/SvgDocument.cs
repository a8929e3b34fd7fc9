using System.Globalization;
using System.Security;
using System.Text;

namespace LlmMerge.Build.Charts;

/// <summary>
/// A hand-written SVG document: elements with invariant number formatting and escaped text. The report's charts
/// are drawn with this rather than a plotting library because the tasks run in MSBuild's task host from this
/// assembly's folder, where a library with native parts (ScottPlot's SkiaSharp) would have to load too; plain
/// text also keeps the files byte-stable, so the report is rewritten only when its numbers change.
/// </summary>
internal sealed class SvgDocument
{
    private readonly StringBuilder _body = new();
    private readonly StringBuilder _defs = new();

    public SvgDocument(double width, double height)
    {
        Width = width;
        Height = height;
    }

    public double Width { get; }

    public double Height { get; }

    /// <summary>An element with attributes (null values are left out) and optional text or child markup.</summary>
    public SvgDocument Add(string name, IEnumerable<(string Name, object? Value)> attributes, string? text = null, string? children = null)
    {
        _body.Append(Element(name, attributes, text, children)).Append('\n');
        return this;
    }

    public SvgDocument Add(string name, params (string Name, object? Value)[] attributes) => Add(name, attributes, null, null);

    public SvgDocument Text(double x, double y, string text, params (string Name, object? Value)[] attributes) =>
        Add("text", [("x", x), ("y", y), .. attributes], text);

    /// <summary>Adds markup to the document's &lt;defs&gt; (patterns).</summary>
    public SvgDocument Define(string markup)
    {
        _defs.Append(markup).Append('\n');
        return this;
    }

    public static string Element(string name, IEnumerable<(string Name, object? Value)> attributes, string? text = null, string? children = null)
    {
        var sb = new StringBuilder("<").Append(name);
        foreach (var (n, v) in attributes)
        {
            if (v is not null)
                sb.Append(' ').Append(n).Append("=\"").Append(Escape(Format(v))).Append('"');
        }
        if (text is null && children is null)
            return sb.Append("/>").ToString();
        sb.Append('>');
        if (children is not null)
            sb.Append(children);
        if (text is not null)
            sb.Append(Escape(text));
        return sb.Append("</").Append(name).Append('>').ToString();
    }

    /// <summary>A &lt;title&gt; child: the tooltip browsers show, and what tests read back.</summary>
    public static string Title(string text) => Element("title", [], text);

    public static string Format(object v) => v switch
    {
        double d => d.ToString("0.##", CultureInfo.InvariantCulture),
        float f => ((double)f).ToString("0.##", CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
    };

    public static string Escape(string s) => SecurityElement.Escape(s) ?? "";

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Format(Width)}\" height=\"{Format(Height)}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        if (_defs.Length > 0)
            sb.Append("<defs>\n").Append(_defs).Append("</defs>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Format(Width)}\" height=\"{Format(Height)}\" fill=\"white\"/>\n");
        sb.Append(_body);
        return sb.Append("</svg>\n").ToString();
    }
}
