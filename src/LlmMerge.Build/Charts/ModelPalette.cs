using System.Globalization;

namespace LlmMerge.Build.Charts;

/// <summary>One colour per model, none repeated however many models a graph scores.</summary>
internal static class ModelPalette
{
    // Tableau 10, then ten of Kelly's colours of maximum contrast that sit apart from them.
    private static readonly string[] Fixed =
    [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
        "#875692", "#008856", "#be0032", "#0067a5", "#f6a600", "#882d17", "#8db600", "#e68fac", "#2b3d26", "#a1caf1",
    ];

    /// <summary>
    /// <paramref name="count"/> distinct colours: the fixed twenty first, then hues a golden angle apart at three
    /// lightnesses, each checked against every colour already handed out.
    /// </summary>
    public static IReadOnlyList<string> Colours(int count)
    {
        var result = new List<string>(count);
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        double hue = 17;
        for (int i = 0; i < count; i++)
        {
            string colour;
            if (i < Fixed.Length)
            {
                colour = Fixed[i];
            }
            else
            {
                do
                {
                    hue = (hue + 137.508) % 360;
                    double lightness = 0.38 + 0.14 * ((i - Fixed.Length) % 3);
                    colour = Hsl(hue, 0.62, lightness);
                }
                while (used.Contains(colour));
            }
            used.Add(colour);
            result.Add(colour);
        }
        return result;
    }

    private static string Hsl(double h, double s, double l)
    {
        double c = (1 - Math.Abs(2 * l - 1)) * s;
        double x = c * (1 - Math.Abs(h / 60 % 2 - 1));
        double m = l - c / 2;
        (double r, double g, double b) = h switch
        {
            < 60 => (c, x, 0d),
            < 120 => (x, c, 0d),
            < 180 => (0d, c, x),
            < 240 => (0d, x, c),
            < 300 => (x, 0d, c),
            _ => (c, 0d, x),
        };
        static int Byte(double v) => (int)Math.Round(Math.Clamp(v, 0, 1) * 255);
        return string.Create(CultureInfo.InvariantCulture, $"#{Byte(r + m):x2}{Byte(g + m):x2}{Byte(b + m):x2}");
    }
}
