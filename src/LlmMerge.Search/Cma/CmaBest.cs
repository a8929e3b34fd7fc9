namespace LlmMerge.Search.Cma;

/// <summary>The best solution evaluated so far and the evaluation count at which it was found (pycma's BestSolution).</summary>
public sealed class CmaBest
{
    public double[]? X { get; private set; }

    public double F { get; private set; } = double.PositiveInfinity;

    /// <summary>1-based number of the evaluation that found it.</summary>
    public int Evals { get; private set; }

    /// <summary>Takes the first of the smallest values of <paramref name="f"/> if it beats the best (strictly).</summary>
    public void Update(IReadOnlyList<double[]> x, IReadOnlyList<double> f, int countEvalsAfter)
    {
        int best = -1;
        for (int i = 0; i < f.Count; i++)
        {
            if (double.IsNaN(f[i])) continue;
            if (best < 0 || f[i] < f[best]) best = i;
        }
        if (best < 0 || !(f[best] < F)) return;
        X = (double[])x[best].Clone();
        F = f[best];
        Evals = countEvalsAfter - f.Count + best + 1;
    }
}
