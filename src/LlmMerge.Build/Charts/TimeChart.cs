using System.Globalization;

namespace LlmMerge.Build.Charts;

/// <summary>
/// Average accuracy against each merge step's wall time, for graphs with many models: a point per merge (its
/// marker and colour, its name beside it), and lines across for what a merge should beat: every reference
/// (dashed), the best expert (dotted) and chance (thin, black).
/// </summary>
internal static class TimeChart
{
    /// <summary>True when the report has enough models for the chart and at least one merge with a time and a full score.</summary>
    public static bool Applies(ReportData data) =>
        data.Models.Count >= ReportData.ManyModels && data.Models.Any(m => m.Role == ModelRole.Merge && m.StepSeconds is not null && m.Average is not null);

    public static string Svg(ReportData data)
    {
        const int left = 56, top = 34, plotW = 520, plotH = 280, right = 190;
        var points = data.Models.Where(m => m.Role == ModelRole.Merge && m.StepSeconds is not null && m.Average is not null).ToList();
        var svg = new SvgDocument(left + plotW + right, top + plotH + 50);
        svg.Text(left, 18, "Average accuracy against each step's time", ("font-size", 13));
        double maxSeconds = NiceCeiling(points.Max(p => p.StepSeconds!.Value) * 1.1);
        double X(double s) => left + plotW * s / maxSeconds;
        double Y(double a) => top + plotH - plotH * Math.Clamp(a, 0, 1);

        for (int i = 0; i <= 4; i++)
        {
            double y = Y(i / 4.0);
            svg.Add("line", ("x1", left), ("y1", y), ("x2", left + plotW), ("y2", y), ("stroke", "#ddd"));
            svg.Text(left - 6, y + 4, (i / 4.0).ToString("0.00", CultureInfo.InvariantCulture), ("text-anchor", "end"));
            double s = maxSeconds * i / 4;
            svg.Add("line", ("x1", X(s)), ("y1", top), ("x2", X(s)), ("y2", top + plotH), ("stroke", "#eee"));
            svg.Text(X(s), top + plotH + 16, s.ToString("0.#", CultureInfo.InvariantCulture), ("text-anchor", "middle"));
        }
        svg.Add("line", ("x1", left), ("y1", top + plotH), ("x2", left + plotW), ("y2", top + plotH), ("stroke", "black"));
        svg.Add("line", ("x1", left), ("y1", top), ("x2", left), ("y2", top + plotH), ("stroke", "black"));
        svg.Text(left + plotW / 2.0, top + plotH + 34, "step wall time (s)", ("text-anchor", "middle"));
        svg.Add("text", [("x", 14), ("y", top + plotH / 2.0), ("text-anchor", "middle"), ("transform", $"rotate(-90 14 {SvgDocument.Format(top + plotH / 2.0)})")], "average accuracy");

        // What a merge has to beat, as lines across the plot with their names at the right.
        var lines = data.Models.Where(m => m.Role == ModelRole.Reference && m.Average is not null).Select(m => (m, "6 4")).ToList();
        if (data.Models.Where(m => m.Role == ModelRole.Expert && m.Average is not null).MaxBy(m => m.Average) is { } best)
            lines.Add((best, "2 3"));
        // Labels at the right, spread apart where lines lie close, each joined to its line's end.
        var placed = lines.Select(l => (Line: l, Y: Y(l.m.Average!.Value))).OrderBy(l => l.Y).ToList();
        var labelY = placed.Select(p => p.Y).ToArray();
        for (int i = 1; i < labelY.Length; i++)
            labelY[i] = Math.Max(labelY[i], labelY[i - 1] + 13);
        for (int i = 0; i < placed.Count; i++)
        {
            var ((m, dash), y) = placed[i];
            svg.Add("line", [("class", "reference-line"), ("data-model", m.Name), ("x1", left), ("y1", y), ("x2", left + plotW), ("y2", y), ("stroke", m.Colour), ("stroke-width", 1.5), ("stroke-dasharray", dash)],
                children: SvgDocument.Title($"{m.Name} ({RoleStyle.Name(m.Role)}): {m.Average:F3}"));
            svg.Add("line", ("x1", left + plotW), ("y1", y), ("x2", left + plotW + 5), ("y2", labelY[i]), ("stroke", m.Colour));
            svg.Add("g", [("class", "line-label")], children: RoleStyle.Marker(m.Role, left + plotW + 10, labelY[i], 9, m.Colour, m.Name)
                + SvgDocument.Element("text", [("x", left + plotW + 18), ("y", labelY[i] + 4), ("font-style", RoleStyle.FontStyle(m.Role))], m.Role == ModelRole.Expert ? $"best expert: {m.Name}" : m.Name));
        }
        if (data.Chance.Count > 0 && data.Chance.All(c => c is not null))
        {
            double y = Y(data.Chance.Average()!.Value);
            svg.Add("line", ("x1", left), ("y1", y), ("x2", left + plotW), ("y2", y), ("stroke", "black"), ("stroke-width", 0.8), ("stroke-dasharray", "4 3"));
            svg.Text(left + 4, y - 4, "chance", ("fill", "#555"));
        }
        foreach (var p in points)
        {
            double x = X(p.StepSeconds!.Value), y = Y(p.Average!.Value);
            svg.Add("g", [("class", "point"), ("data-model", p.Name)], children: RoleStyle.Marker(p.Role, x, y, 11, p.Colour, p.Name)
                + SvgDocument.Title($"{p.Name} ({p.Method}): {p.Average:F3} in {p.StepSeconds:F1} s")
                + SvgDocument.Element("text", [("x", x + 9), ("y", y - 7), ("font-weight", "bold")], p.Name));
        }
        return svg.ToString();
    }

    // 1, 2 or 5 times a power of ten, so the axis reads in round numbers.
    private static double NiceCeiling(double v)
    {
        if (v <= 0)
            return 1;
        double p = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (double m in new[] { 1.0, 2, 5, 10 })
        {
            if (m * p >= v)
                return m * p;
        }
        return 10 * p;
    }
}
