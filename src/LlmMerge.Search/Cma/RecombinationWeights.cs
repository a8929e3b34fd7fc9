namespace LlmMerge.Search.Cma;

/// <summary>
/// pycma's default recombination weights (cma/recombination_weights.py, pycma 4.4.0 at 8d16505): raw weights
/// ln((λ+1)/2) − ln i, the positive ones scaled to sum 1, the negative ones (active CMA, pycma's default
/// <c>CMA_active</c>) to sum −1 and then finalized against the learning rates: zero decay (c1 + cmu·Σw = 0), at most
/// 1 + 2·μeff⁻/(μeff + 2), and small enough to keep C positive definite.
/// </summary>
public sealed class RecombinationWeights
{
    private readonly double[] _w;

    public RecombinationWeights(int lambda)
    {
        if (lambda < 2)
            throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "the population size must be at least 2");
        _w = new double[lambda];
        for (int i = 1; i <= lambda; i++)
            _w[i - 1] = Math.Log((lambda + 1) / 2.0) - Math.Log(i);
        Mu = _w.Count(w => w > 0);
        double positive = 0;
        for (int i = 0; i < Mu; i++) positive += _w[i];
        for (int i = 0; i < lambda; i++) _w[i] /= positive;
        double squares = 0;
        for (int i = 0; i < Mu; i++) squares += _w[i] * _w[i];
        MuEff = 1 / squares;
        double negative = NegativeSum;
        if (negative != 0)
        {
            for (int i = Mu; i < lambda; i++) _w[i] /= -negative;
        }
    }

    /// <summary>λ, the number of weights.</summary>
    public int Lambda => _w.Length;

    /// <summary>μ, the number of positive weights.</summary>
    public int Mu { get; }

    /// <summary>Variance effective selection mass of the positive weights.</summary>
    public double MuEff { get; }

    public double this[int i] => _w[i];

    public IReadOnlyList<double> All => _w;

    private double NegativeSum
    {
        get
        {
            double s = 0;
            for (int i = Mu; i < _w.Length; i++) s += _w[i];
            return s;
        }
    }

    /// <summary>μeff of the negative weights, 0 without any.</summary>
    public double MuEffMinus
    {
        get
        {
            double s = NegativeSum, q = 0;
            for (int i = Mu; i < _w.Length; i++) q += _w[i] * _w[i];
            return s == 0 ? 0 : s * s / q;
        }
    }

    /// <summary>pycma's <c>finalize_negative_weights(dimension, c1, cmu, pos_def=True)</c>.</summary>
    public void FinalizeNegative(int dimension, double c1, double cmu)
    {
        if (_w[^1] >= 0)
            return;
        if (cmu > 0)
        {
            SetNegativeSum(1 + c1 / cmu);
            LimitNegativeSum((1 - c1 - cmu) / cmu / dimension);
        }
        LimitNegativeSum(1 + 2 * MuEffMinus / (MuEff + 2));
    }

    private void SetNegativeSum(double value)
    {
        value = Math.Abs(value);
        double factor = Math.Abs(value / NegativeSum);
        for (int i = Mu; i < _w.Length; i++) _w[i] *= factor;
    }

    private void LimitNegativeSum(double value)
    {
        value = Math.Abs(value);
        double s = NegativeSum;
        if (s >= -value)
            return;
        double factor = Math.Abs(value / s);
        if (factor < 1)
        {
            for (int i = Mu; i < _w.Length; i++) _w[i] *= factor;
        }
    }
}
