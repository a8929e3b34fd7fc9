namespace LlmMerge.Build.Charts;

/// <summary>
/// Accuracy by task as grouped bars: a group per task, a bar per model in the model's own colour, hatched for
/// merges and dotted (with a dashed outline) for references, a dashed line at chance, and a legend by role.
/// </summary>
internal static class BarChart
{
    public static string Svg(ReportData data)
    {
        const int left = 50, top = 30, plotH = 240, bar = 16, gap = 24;
        var models = data.Models;
        int groupW = Math.Max(1, models.Count) * bar + gap;
        int plotW = Math.Max(200, data.Tasks.Count * groupW);
        var legend = RoleStyle.Legend(new SvgDocument(0, 0), models, 0, 0);
        var svg = new SvgDocument(left + Math.Max(plotW, legend.Width) + 20, top + plotH + 40 + legend.Height + 10);
        RoleStyle.DefinePatterns(svg);
        svg.Text(left, 18, "Accuracy by task (dashed: chance; hatched: merges; dotted: references)", ("font-size", 13));
        for (int i = 0; i <= 4; i++)
        {
            double y = top + plotH - plotH * i / 4.0;
            svg.Add("line", ("x1", left), ("y1", y), ("x2", left + plotW), ("y2", y), ("stroke", "#ddd"));
            svg.Text(left - 6, y + 4, (i / 4.0).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture), ("text-anchor", "end"));
        }
        for (int t = 0; t < data.Tasks.Count; t++)
        {
            int x0 = left + t * groupW + gap / 2;
            for (int m = 0; m < models.Count; m++)
            {
                var model = models[m];
                if (model.Scores[t] is not { } v)
                    continue;
                double h = Math.Clamp(v, 0, 1) * plotH;
                double x = x0 + m * bar, y = top + plotH - h;
                string role = RoleStyle.Name(model.Role);
                svg.Add("rect", [("class", "bar"), ("data-model", model.Name), ("data-role", role), ("x", x), ("y", y), ("width", bar - 2), ("height", h),
                        ("fill", model.Colour), ("stroke", model.Role == ModelRole.Reference ? "#333" : null), ("stroke-dasharray", model.Role == ModelRole.Reference ? "3 2" : null)],
                    children: SvgDocument.Title($"{model.Name} ({role}) on {data.Tasks[t]}: {v:F3}"));
                if (RoleStyle.Pattern(model.Role) is { } pattern)
                    svg.Add("rect", ("class", "pattern"), ("data-model", model.Name), ("x", x), ("y", y), ("width", bar - 2), ("height", h), ("fill", pattern), ("pointer-events", "none"));
            }
            if (data.Chance[t] is { } c)
            {
                double y = top + plotH - c * plotH;
                svg.Add("line", ("x1", x0 - 4), ("y1", y), ("x2", x0 + models.Count * bar + 2), ("y2", y), ("stroke", "black"), ("stroke-dasharray", "4 3"));
            }
            svg.Text(x0 + models.Count * bar / 2.0, top + plotH + 16, data.Tasks[t], ("text-anchor", "middle"));
        }
        svg.Add("line", ("x1", left), ("y1", top + plotH), ("x2", left + plotW), ("y2", top + plotH), ("stroke", "black"));
        RoleStyle.Legend(svg, models, left, top + plotH + 30);
        return svg.ToString();
    }
}
