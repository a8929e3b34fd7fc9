namespace LlmMerge.Build.Charts;

/// <summary>
/// How each role is drawn besides its colour: a marker shape (square, circle, triangle) in legends, heatmap rows
/// and the time chart; a fill pattern over bars (none, hatching, dots); a label style (plain, bold, italic).
/// </summary>
internal static class RoleStyle
{
    public const string HatchId = "merge-hatch";
    public const string DotsId = "reference-dots";

    /// <summary>The patterns the bars use; white marks over the model's own colour.</summary>
    public static void DefinePatterns(SvgDocument svg)
    {
        svg.Define($"<pattern id=\"{HatchId}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"2\" height=\"6\" fill=\"white\" fill-opacity=\"0.75\"/></pattern>");
        svg.Define($"<pattern id=\"{DotsId}\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\"><circle cx=\"2.5\" cy=\"2.5\" r=\"1.2\" fill=\"white\" fill-opacity=\"0.85\"/></pattern>");
    }

    public static string Name(ModelRole role) => role switch
    {
        ModelRole.Expert => "expert",
        ModelRole.Merge => "merge",
        _ => "reference",
    };

    public static string Heading(ModelRole role) => role switch
    {
        ModelRole.Expert => "Experts (merged by a step)",
        ModelRole.Merge => "Merges",
        _ => "References (scored, not merged)",
    };

    /// <summary>The pattern drawn over a bar of this role, or null for none.</summary>
    public static string? Pattern(ModelRole role) => role switch
    {
        ModelRole.Merge => $"url(#{HatchId})",
        ModelRole.Reference => $"url(#{DotsId})",
        _ => null,
    };

    public static string? FontWeight(ModelRole role) => role == ModelRole.Merge ? "bold" : null;

    public static string? FontStyle(ModelRole role) => role == ModelRole.Reference ? "italic" : null;

    /// <summary>The role's marker centred at (x, y), <paramref name="size"/> across, in the model's colour.</summary>
    public static string Marker(ModelRole role, double x, double y, double size, string colour, string model)
    {
        double h = size / 2;
        (string Name, object? Value)[] common = [("class", "marker"), ("data-model", model), ("data-role", Name(role)), ("fill", colour), ("stroke", "#333"), ("stroke-width", 0.6)];
        return role switch
        {
            ModelRole.Expert => SvgDocument.Element("rect", [("x", x - h), ("y", y - h), ("width", size), ("height", size), .. common]),
            ModelRole.Merge => SvgDocument.Element("circle", [("cx", x), ("cy", y), ("r", h), .. common]),
            _ => SvgDocument.Element("polygon", [("points", $"{SvgDocument.Format(x)},{SvgDocument.Format(y - h)} {SvgDocument.Format(x + h)},{SvgDocument.Format(y + h)} {SvgDocument.Format(x - h)},{SvgDocument.Format(y + h)}"), .. common]),
        };
    }

    /// <summary>
    /// A legend grouped by role, a column per role present: a heading, then marker and name per model. Returns its
    /// width and height (drawing into a throwaway document measures it).
    /// </summary>
    public static (double Width, double Height) Legend(SvgDocument svg, IReadOnlyList<ReportModel> models, double x, double y)
    {
        double columnX = x, height = 0;
        foreach (ModelRole role in new[] { ModelRole.Expert, ModelRole.Merge, ModelRole.Reference })
        {
            var group = models.Where(m => m.Role == role).ToList();
            if (group.Count == 0)
                continue;
            var labels = group.Select(m => m.Role == ModelRole.Merge && m.Method.Length > 0 ? $"{m.Name} ({m.Method})" : m.Name).ToList();
            double columnWidth = 24 + 6.5 * Math.Max(Heading(role).Length * 0.9, labels.Max(l => l.Length));
            double at = y;
            svg.Text(columnX, at + 10, Heading(role), ("font-size", 11), ("fill", "#555"));
            at += 16;
            for (int i = 0; i < group.Count; i++)
            {
                var m = group[i];
                svg.Add("g", [("class", "legend"), ("data-model", m.Name), ("data-role", Name(role))], children: Marker(role, columnX + 7, at + 6, 11, m.Colour, m.Name)
                    + SvgDocument.Element("text", [("x", columnX + 18), ("y", at + 10), ("font-weight", FontWeight(role)), ("font-style", FontStyle(role))], labels[i]));
                at += 16;
            }
            height = Math.Max(height, at - y);
            columnX += columnWidth + 16;
        }
        return (columnX - x, height);
    }
}
