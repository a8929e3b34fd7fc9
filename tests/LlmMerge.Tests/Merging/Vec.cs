namespace LlmMerge.Tests.Merging;

/// <summary>Plain double-precision vector arithmetic, so the spherical methods' expected values owe nothing to the engine.</summary>
internal static class Vec
{
    public static double[] D(float[] v) => v.Select(x => (double)x).ToArray();

    public static float[] F(double[] v) => v.Select(x => (float)x).ToArray();

    public static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
            s += a[i] * b[i];
        return s;
    }

    public static double Norm(double[] a) => Math.Sqrt(Dot(a, a));

    public static double[] Scale(double[] a, double s) => a.Select(x => x * s).ToArray();

    public static double[] Add(double[] a, double[] b) => a.Select((x, i) => x + b[i]).ToArray();

    public static double[] Sub(double[] a, double[] b) => a.Select((x, i) => x - b[i]).ToArray();

    /// <summary>Textbook slerp of two vectors by the angle between their directions; linear when that angle's sine is ~0.</summary>
    public static double[] Slerp(double t, double[] a, double[] b)
    {
        double cos = Math.Clamp(Dot(a, b) / (Norm(a) * Norm(b)), -1, 1);
        double theta = Math.Acos(cos);
        if (Math.Abs(Math.Sin(theta)) < 1e-8)
            return Add(Scale(a, 1 - t), Scale(b, t));
        return Add(Scale(a, Math.Sin((1 - t) * theta) / Math.Sin(theta)), Scale(b, Math.Sin(t * theta) / Math.Sin(theta)));
    }

    /// <summary>Column-major view of a row-major matrix (rows x cols) as its columns.</summary>
    public static double[][] Columns(double[] m, int rows, int cols) =>
        Enumerable.Range(0, cols).Select(c => Enumerable.Range(0, rows).Select(r => m[r * cols + c]).ToArray()).ToArray();

    public static double[][] Rows(double[] m, int rows, int cols) =>
        Enumerable.Range(0, rows).Select(r => m.Skip(r * cols).Take(cols).ToArray()).ToArray();
}
