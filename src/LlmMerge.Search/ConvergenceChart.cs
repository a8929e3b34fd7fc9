using System.Globalization;
using System.Text;

namespace LlmMerge.Search;

/// <summary>One generation of a search as the chart and search.json record it.</summary>
public sealed record GenerationSummary(int Generation, int Evaluations, double BestSoFar, double GenerationBest, double GenerationMean);

/// <summary>A small hand-written SVG of the best fitness so far and each generation's mean fitness, per generation.</summary>
public static class ConvergenceChart
{
    public static string Render(IReadOnlyList<GenerationSummary> generations, string title)
    {
        const int width = 640, height = 320, left = 60, right = 20, top = 36, bottom = 44;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"  <rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"  <text x=\"{left}\" y=\"20\" font-size=\"14\">{Escape(title)}</text>\n");
        if (generations.Count == 0)
            return sb.Append("</svg>\n").ToString();
        double lo = generations.Min(g => Math.Min(g.GenerationMean, g.BestSoFar));
        double hi = generations.Max(g => Math.Max(g.GenerationBest, g.BestSoFar));
        if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
        double pad = (hi - lo) * 0.05;
        lo -= pad;
        hi += pad;
        int n = generations.Count;
        double X(double gen) => left + (n == 1 ? 0.5 : (gen - 1) / (n - 1.0)) * (width - left - right);
        double Y(double f) => top + (hi - f) / (hi - lo) * (height - top - bottom);
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

        sb.Append(CultureInfo.InvariantCulture, $"  <line x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{width - right}\" y2=\"{height - bottom}\" stroke=\"#444\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"  <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\" stroke=\"#444\"/>\n");
        for (int i = 0; i <= 4; i++)
        {
            double v = lo + (hi - lo) * i / 4;
            sb.Append(CultureInfo.InvariantCulture, $"  <line x1=\"{left}\" y1=\"{F(Y(v))}\" x2=\"{width - right}\" y2=\"{F(Y(v))}\" stroke=\"#ddd\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"  <text x=\"{left - 6}\" y=\"{F(Y(v) + 4)}\" text-anchor=\"end\">{v.ToString("0.000", CultureInfo.InvariantCulture)}</text>\n");
        }
        int step = Math.Max(1, (int)Math.Ceiling(n / 10.0));
        for (int g = 1; g <= n; g += step)
            sb.Append(CultureInfo.InvariantCulture, $"  <text x=\"{F(X(g))}\" y=\"{height - bottom + 16}\" text-anchor=\"middle\">{g}</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"  <text x=\"{(left + width - right) / 2}\" y=\"{height - 8}\" text-anchor=\"middle\">generation</text>\n");

        string Line(Func<GenerationSummary, double> value) =>
            string.Join(' ', generations.Select((g, i) => $"{F(X(i + 1))},{F(Y(value(g)))}"));
        sb.Append("  <polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"").Append(Line(g => g.BestSoFar)).Append("\"/>\n");
        sb.Append("  <polyline fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\" points=\"").Append(Line(g => g.GenerationMean)).Append("\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"  <text x=\"{width - right - 200}\" y=\"{top + 14}\" fill=\"#1f77b4\">best so far</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"  <text x=\"{width - right - 200}\" y=\"{top + 30}\" fill=\"#ff7f0e\">generation mean</text>\n");
        return sb.Append("</svg>\n").ToString();
    }

    private static string Escape(string s) => System.Security.SecurityElement.Escape(s) ?? "";
}
