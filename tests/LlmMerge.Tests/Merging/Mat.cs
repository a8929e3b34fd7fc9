namespace LlmMerge.Tests.Merging;

/// <summary>
/// Plain double-precision matrices (row-major double[,]) with a one-sided Jacobi SVD, so the singular-vector
/// methods' expected values owe nothing to libtorch or LAPACK.
/// </summary>
internal static class Mat
{
    public static double[,] From(float[] values, int rows, int cols)
    {
        var m = new double[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                m[i, j] = values[i * cols + j];
        return m;
    }

    public static float[] Flat(double[,] m)
    {
        int rows = m.GetLength(0), cols = m.GetLength(1);
        var f = new float[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                f[i * cols + j] = (float)m[i, j];
        return f;
    }

    public static double[,] Mul(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), k = a.GetLength(1), m = b.GetLength(1);
        Assert.That(b.GetLength(0), Is.EqualTo(k), "inner dimensions");
        var c = new double[n, m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double s = 0;
                for (int t = 0; t < k; t++)
                    s += a[i, t] * b[t, j];
                c[i, j] = s;
            }
        return c;
    }

    public static double[,] T(double[,] a)
    {
        int n = a.GetLength(0), m = a.GetLength(1);
        var t = new double[m, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                t[j, i] = a[i, j];
        return t;
    }

    public static double[,] Add(double[,] a, double[,] b, double scaleB = 1)
    {
        var c = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++)
                c[i, j] += scaleB * b[i, j];
        return c;
    }

    public static double[,] Scale(double[,] a, double s)
    {
        var c = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++)
                c[i, j] *= s;
        return c;
    }

    /// <summary>Columns [from, from + count) of a.</summary>
    public static double[,] Cols(double[,] a, int from, int count)
    {
        var c = new double[a.GetLength(0), count];
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < count; j++)
                c[i, j] = a[i, from + j];
        return c;
    }

    /// <summary>U diag(s) Vᵀ.</summary>
    public static double[,] Compose(double[,] u, double[] s, double[,] v)
    {
        var us = (double[,])u.Clone();
        for (int i = 0; i < u.GetLength(0); i++)
            for (int j = 0; j < s.Length; j++)
                us[i, j] *= s[j];
        return Mul(us, T(v));
    }

    /// <summary>
    /// Thin SVD A = U diag(S) Vᵀ by one-sided Jacobi rotations (Hestenes), S descending, r = min(m, n) triplets;
    /// left vectors of zero singular values are left zero.
    /// </summary>
    public static (double[,] U, double[] S, double[,] V) Svd(double[,] a)
    {
        int m = a.GetLength(0), n = a.GetLength(1);
        if (m < n)
        {
            var (ut, st, vt) = Svd(T(a));
            return (vt, st, ut);
        }
        var w = (double[,])a.Clone();
        var v = new double[n, n];
        for (int i = 0; i < n; i++)
            v[i, i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            bool rotated = false;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double alpha = 0, beta = 0, gamma = 0;
                    for (int i = 0; i < m; i++)
                    {
                        alpha += w[i, p] * w[i, p];
                        beta += w[i, q] * w[i, q];
                        gamma += w[i, p] * w[i, q];
                    }
                    if (Math.Abs(gamma) <= 1e-15 * Math.Sqrt(alpha * beta) || gamma == 0)
                        continue;
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.Sign(zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                    if (zeta == 0)
                        t = 1;
                    double c = 1 / Math.Sqrt(1 + t * t), s = c * t;
                    for (int i = 0; i < m; i++)
                    {
                        double wp = w[i, p], wq = w[i, q];
                        w[i, p] = c * wp - s * wq;
                        w[i, q] = s * wp + c * wq;
                    }
                    for (int i = 0; i < n; i++)
                    {
                        double vp = v[i, p], vq = v[i, q];
                        v[i, p] = c * vp - s * vq;
                        v[i, q] = s * vp + c * vq;
                    }
                }
            if (!rotated)
                break;
        }
        var sigma = new double[n];
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int i = 0; i < m; i++)
                s += w[i, j] * w[i, j];
            sigma[j] = Math.Sqrt(s);
        }
        var order = Enumerable.Range(0, n).OrderByDescending(j => sigma[j]).ToArray();
        var uOut = new double[m, n];
        var vOut = new double[n, n];
        var sOut = new double[n];
        double tiny = 1e-12 * Math.Max(1e-300, sigma.Max());
        for (int k = 0; k < n; k++)
        {
            int j = order[k];
            sOut[k] = sigma[j];
            for (int i = 0; i < n; i++)
                vOut[i, k] = v[i, j];
            if (sigma[j] > tiny)
                for (int i = 0; i < m; i++)
                    uOut[i, k] = w[i, j] / sigma[j];
        }
        return (uOut, sOut, vOut);
    }

    /// <summary>The orthogonal polar factor U Vᵀ (terms of zero singular values left out).</summary>
    public static double[,] Polar(double[,] a)
    {
        var (u, s, v) = Svd(a);
        var ones = s.Select(x => x > 1e-12 * Math.Max(1e-300, s[0]) ? 1.0 : 0.0).ToArray();
        return Compose(u, ones, v);
    }

    /// <summary>Inverse by Gauss-Jordan elimination with partial pivoting.</summary>
    public static double[,] Inverse(double[,] a)
    {
        int n = a.GetLength(0);
        var m = (double[,])a.Clone();
        var inv = new double[n, n];
        for (int i = 0; i < n; i++)
            inv[i, i] = 1;
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++)
                if (Math.Abs(m[r, col]) > Math.Abs(m[pivot, col]))
                    pivot = r;
            for (int j = 0; j < n; j++)
            {
                (m[col, j], m[pivot, j]) = (m[pivot, j], m[col, j]);
                (inv[col, j], inv[pivot, j]) = (inv[pivot, j], inv[col, j]);
            }
            double d = m[col, col];
            for (int j = 0; j < n; j++)
            {
                m[col, j] /= d;
                inv[col, j] /= d;
            }
            for (int r = 0; r < n; r++)
            {
                if (r == col)
                    continue;
                double f = m[r, col];
                for (int j = 0; j < n; j++)
                {
                    m[r, j] -= f * m[col, j];
                    inv[r, j] -= f * inv[col, j];
                }
            }
        }
        return inv;
    }

    /// <summary>Largest |a − b| over the largest |b|: the relative error the tests bound.</summary>
    public static double RelativeError(float[] actual, double[,] expected)
    {
        var e = Flat(expected);
        double scale = 0, err = 0;
        for (int i = 0; i < e.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i / expected.GetLength(1), i % expected.GetLength(1)]));
            err = Math.Max(err, Math.Abs(actual[i] - expected[i / expected.GetLength(1), i % expected.GetLength(1)]));
        }
        return err / scale;
    }
}
