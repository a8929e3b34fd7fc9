using System.Globalization;
using System.Security;
using System.Text;

namespace LlmMerge.Build;

/// <summary>A grouped bar chart as hand-written SVG: one group per task, one bar per model, a dashed line at chance.</summary>
internal static class BarChart
{
    private static readonly string[] Palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

    public static string Svg(List<string> tasks, List<string> models, Dictionary<(string Model, string Task), double> scores, Dictionary<string, double?> chance)
    {
        const int left = 50, top = 30, plotH = 240, bar = 16, gap = 24;
        int groupW = Math.Max(1, models.Count) * bar + gap;
        int plotW = Math.Max(200, tasks.Count * groupW);
        int legendH = 18 * models.Count + 10;
        int width = left + plotW + 20, height = top + plotH + 40 + legendH;
        var inv = CultureInfo.InvariantCulture;
        var svg = new StringBuilder();
        svg.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        svg.Append(inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        svg.Append(inv, $"<text x=\"{left}\" y=\"18\" font-size=\"13\">Accuracy by task (dashed: chance)</text>\n");
        for (int i = 0; i <= 4; i++)
        {
            double y = top + plotH - plotH * i / 4.0;
            svg.Append(inv, $"<line x1=\"{left}\" y1=\"{y}\" x2=\"{left + plotW}\" y2=\"{y}\" stroke=\"#ddd\"/>");
            svg.Append(inv, $"<text x=\"{left - 6}\" y=\"{y + 4}\" text-anchor=\"end\">{i / 4.0:0.00}</text>\n");
        }
        for (int t = 0; t < tasks.Count; t++)
        {
            int x0 = left + t * groupW + gap / 2;
            for (int m = 0; m < models.Count; m++)
            {
                if (!scores.TryGetValue((models[m], tasks[t]), out double v)) continue;
                double h = Math.Clamp(v, 0, 1) * plotH;
                svg.Append(inv, $"<rect x=\"{x0 + m * bar}\" y=\"{top + plotH - h:F1}\" width=\"{bar - 2}\" height=\"{h:F1}\" fill=\"{Palette[m % Palette.Length]}\"><title>{Esc(models[m])} on {Esc(tasks[t])}: {v:F3}</title></rect>\n");
            }
            if (chance.TryGetValue(tasks[t], out double? c) && c is not null)
            {
                double y = top + plotH - c.Value * plotH;
                svg.Append(inv, $"<line x1=\"{x0 - 4}\" y1=\"{y:F1}\" x2=\"{x0 + models.Count * bar + 2}\" y2=\"{y:F1}\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\n");
            }
            svg.Append(inv, $"<text x=\"{x0 + models.Count * bar / 2.0:F1}\" y=\"{top + plotH + 16}\" text-anchor=\"middle\">{Esc(tasks[t])}</text>\n");
        }
        svg.Append(inv, $"<line x1=\"{left}\" y1=\"{top + plotH}\" x2=\"{left + plotW}\" y2=\"{top + plotH}\" stroke=\"black\"/>\n");
        for (int m = 0; m < models.Count; m++)
        {
            int y = top + plotH + 34 + 18 * m;
            svg.Append(inv, $"<rect x=\"{left}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{Palette[m % Palette.Length]}\"/><text x=\"{left + 18}\" y=\"{y + 10}\">{Esc(models[m])}</text>\n");
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string Esc(string s) => SecurityElement.Escape(s) ?? "";
}
