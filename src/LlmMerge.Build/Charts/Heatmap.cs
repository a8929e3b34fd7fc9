using System.Globalization;

namespace LlmMerge.Build.Charts;

/// <summary>
/// Models × tasks as a heatmap: a row per model (its role's marker in its colour, merges bold, references italic),
/// a column per task and the average, each cell coloured by accuracy on one sequential scale and labelled with it;
/// the chance row last. Read across a row for a model's profile, down a column for who holds a skill.
/// </summary>
internal static class Heatmap
{
    // viridis at 0, 0.25, 0.5, 0.75, 1: ordered in lightness, readable in grey and by most colour-blind readers.
    private static readonly (double R, double G, double B)[] Stops =
    [
        (0x44, 0x01, 0x54), (0x3b, 0x52, 0x8b), (0x21, 0x91, 0x8c), (0x5e, 0xc9, 0x62), (0xfd, 0xe7, 0x25),
    ];

    public static string Svg(ReportData data)
    {
        const int top = 46, cellW = 84, cellH = 22;
        var models = data.Models;
        int labelW = 30 + 7 * Math.Max(8, models.Select(m => m.Name.Length).DefaultIfEmpty(0).Max());
        var columns = data.Tasks.Append("average").ToList();
        int rows = models.Count + 1;
        var svg = new SvgDocument(labelW + columns.Count * cellW + 20, top + rows * cellH + 50);
        svg.Text(10, 18, "Accuracy, models × tasks", ("font-size", 13));
        for (int c = 0; c < columns.Count; c++)
        {
            svg.Text(labelW + c * cellW + cellW / 2.0, top - 8, Shorten(columns[c], 13), ("text-anchor", "middle"), ("font-weight", c == columns.Count - 1 ? "bold" : null));
        }
        for (int r = 0; r < models.Count; r++)
        {
            var m = models[r];
            double y = top + r * cellH;
            svg.Add("g", [("class", "row-label"), ("data-model", m.Name)], children:
                RoleStyle.Marker(m.Role, 16, y + cellH / 2.0, 10, m.Colour, m.Name)
                + SvgDocument.Element("text", [("x", 28), ("y", y + cellH / 2.0 + 4), ("font-weight", RoleStyle.FontWeight(m.Role)), ("font-style", RoleStyle.FontStyle(m.Role))], m.Name));
            var values = m.Scores.Append(m.Average).ToList();
            for (int c = 0; c < columns.Count; c++)
                Cell(svg, labelW + c * cellW, y, cellW, cellH, values[c], $"{m.Name} on {columns[c]}");
        }
        // Chance, for reading each column against it.
        double chanceY = top + models.Count * cellH;
        svg.Text(28, chanceY + cellH / 2.0 + 4, "chance", ("font-style", "italic"), ("fill", "#555"));
        var chance = data.Chance.Append(data.Chance.All(c => c is not null) && data.Chance.Count > 0 ? data.Chance.Average() : null).ToList();
        for (int c = 0; c < columns.Count; c++)
        {
            string text = chance[c] is { } v ? v.ToString("F3", CultureInfo.InvariantCulture) : "n/a";
            svg.Text(labelW + c * cellW + cellW / 2.0, chanceY + cellH / 2.0 + 4, text, ("text-anchor", "middle"), ("fill", "#555"), ("font-style", "italic"));
        }
        Scale(svg, labelW, chanceY + cellH + 14, Math.Min(240, columns.Count * cellW));
        return svg.ToString();
    }

    private static void Cell(SvgDocument svg, double x, double y, double w, double h, double? value, string what)
    {
        if (value is not { } v)
        {
            svg.Add("rect", [("class", "cell"), ("x", x), ("y", y), ("width", w - 1), ("height", h - 1), ("fill", "#f0f0f0")], children: SvgDocument.Title($"{what}: not scored"));
            svg.Text(x + w / 2, y + h / 2 + 4, "n/a", ("text-anchor", "middle"), ("fill", "#888"));
            return;
        }
        svg.Add("rect", [("class", "cell"), ("x", x), ("y", y), ("width", w - 1), ("height", h - 1), ("fill", Colour(v))], children: SvgDocument.Title($"{what}: {v:F3}"));
        svg.Text(x + w / 2, y + h / 2 + 4, v.ToString("F3", CultureInfo.InvariantCulture), ("text-anchor", "middle"), ("fill", v < 0.62 ? "white" : "black"));
    }

    private static void Scale(SvgDocument svg, double x, double y, double width)
    {
        const int steps = 20;
        for (int i = 0; i < steps; i++)
            svg.Add("rect", ("class", "scale"), ("x", x + width * i / steps), ("y", y), ("width", width / steps + 0.5), ("height", 8), ("fill", Colour((i + 0.5) / steps)));
        svg.Text(x, y + 20, "0", ("text-anchor", "start"));
        svg.Text(x + width, y + 20, "1", ("text-anchor", "end"));
        svg.Text(x + width / 2, y + 20, "accuracy", ("text-anchor", "middle"), ("fill", "#555"));
    }

    /// <summary>The scale's colour for an accuracy in [0, 1].</summary>
    public static string Colour(double v)
    {
        double t = Math.Clamp(v, 0, 1) * (Stops.Length - 1);
        int i = Math.Min(Stops.Length - 2, (int)t);
        double f = t - i;
        var (a, b) = (Stops[i], Stops[i + 1]);
        int Mix(double p, double q) => (int)Math.Round(p + (q - p) * f);
        return string.Create(CultureInfo.InvariantCulture, $"#{Mix(a.R, b.R):x2}{Mix(a.G, b.G):x2}{Mix(a.B, b.B):x2}");
    }

    private static string Shorten(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
}
