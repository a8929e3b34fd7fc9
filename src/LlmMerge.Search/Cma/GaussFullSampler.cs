namespace LlmMerge.Search.Cma;

/// <summary>
/// The zero-mean normal distribution N(0, C) of pycma's GaussFullSampler (cma/sampler.py, pycma 4.4.0 at 8d16505):
/// samples B·(D∘z), updates C by weighted outer products (vectors with negative weights rescaled to Mahalanobis
/// length √n first), and eigendecomposes C lazily, at most every <c>lazy_update_gap</c> updates, right before sampling.
/// B and D therefore stay those of the last decomposition until the next sample, as pycma's do (its Mahalanobis
/// norms and the CSA path use them).
/// </summary>
public sealed class GaussFullSampler
{
    private readonly double _lazyGap;
    private int _countTell;
    private int _lastUpdate;

    public GaussFullSampler(int dimension, double lazyUpdateGap)
    {
        N = dimension;
        _lazyGap = lazyUpdateGap;
        C = new double[dimension, dimension];
        B = new double[dimension, dimension];
        D = new double[dimension];
        // pycma's hack against equal eigenvalues: C0 = diag(exp(1e-4 / n · i)).
        for (int i = 0; i < dimension; i++)
        {
            C[i, i] = Math.Exp(1e-4 / dimension * i);
            B[i, i] = 1;
            D[i] = Math.Sqrt(C[i, i]);
        }
    }

    public int N { get; }

    /// <summary>The covariance matrix as updated (row-major).</summary>
    public double[,] C { get; }

    /// <summary>Eigenvectors (columns) of C at the last decomposition.</summary>
    public double[,] B { get; private set; }

    /// <summary>Square roots of C's eigenvalues at the last decomposition, ascending.</summary>
    public double[] D { get; private set; }

    public int EigenDecompositions { get; private set; }

    /// <summary>diag(C).</summary>
    public double[] Variances
    {
        get
        {
            var v = new double[N];
            for (int i = 0; i < N; i++) v[i] = C[i, i];
            return v;
        }
    }

    /// <summary>B·(D∘z) for one standard normal vector z.</summary>
    public double[] Transform(double[] z)
    {
        var y = new double[N];
        for (int i = 0; i < N; i++)
        {
            double s = 0;
            for (int j = 0; j < N; j++) s += B[i, j] * (D[j] * z[j]);
            y[i] = s;
        }
        return y;
    }

    /// <summary>C^(-1/2)·x = B·((Bᵀx) / D).</summary>
    public double[] TransformInverse(double[] x)
    {
        var bx = new double[N];
        for (int j = 0; j < N; j++)
        {
            double s = 0;
            for (int i = 0; i < N; i++) s += B[i, j] * x[i];
            bx[j] = s / D[j];
        }
        var r = new double[N];
        for (int i = 0; i < N; i++)
        {
            double s = 0;
            for (int j = 0; j < N; j++) s += B[i, j] * bx[j];
            r[i] = s;
        }
        return r;
    }

    /// <summary>Mahalanobis norm ‖(Bᵀx)/D‖.</summary>
    public double Norm(double[] x)
    {
        double sum = 0;
        for (int j = 0; j < N; j++)
        {
            double s = 0;
            for (int i = 0; i < N; i++) s += B[i, j] * x[i];
            s /= D[j];
            sum += s * s;
        }
        return Math.Sqrt(sum);
    }

    /// <summary>pycma's update_now: decomposes C when enough updates have passed since the last decomposition.</summary>
    public void UpdateNow()
    {
        if (_countTell < _lastUpdate + _lazyGap || (_lazyGap == _countTell - _lastUpdate && _countTell - _lastUpdate == 0))
            return;
        Decompose();
        _lastUpdate = _countTell;
    }

    private void Decompose()
    {
        for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
        {
            double m = (C[i, j] + C[j, i]) / 2;
            C[i, j] = m;
            C[j, i] = m;
        }
        var (values, vectors) = SymmetricEigen.Decompose(C);
        if (values[0] <= 0)
        {
            // pycma adds the smallest old eigenvalue to the diagonal and tries again.
            double minOld = D[0] * D[0];
            for (int i = 0; i < N; i++) C[i, i] += minOld;
            Decompose();
            return;
        }
        EigenDecompositions++;
        B = vectors;
        D = values.Select(Math.Sqrt).ToArray();
    }

    /// <summary>
    /// C ← (1 − Σw)·C + Σ wₖ vₖvₖᵀ, where a vector with a negative weight has its weight scaled by n / ‖vₖ‖²_C first
    /// (pycma's update with <c>c1_times_delta_hsigma = 0</c>).
    /// </summary>
    public void Update(IReadOnlyList<double[]> vectors, IReadOnlyList<double> weights)
    {
        var w = weights.ToArray();
        double decay = 1 - w.Sum();
        for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) C[i, j] *= decay;
        for (int k = 0; k < w.Length; k++)
        {
            if (w[k] < 0)
            {
                double norm = Norm(vectors[k]);
                w[k] *= N / ((norm + 1e-9) * (norm + 1e-9));
            }
        }
        for (int k = 0; k < w.Length; k++)
        {
            var v = vectors[k];
            double wk = w[k];
            for (int i = 0; i < N; i++)
            {
                double wv = wk * v[i];
                for (int j = 0; j < N; j++) C[i, j] += wv * v[j];
            }
        }
        _countTell++;
    }
}
