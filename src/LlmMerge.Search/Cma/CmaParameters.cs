namespace LlmMerge.Search.Cma;

/// <summary>
/// Strategy parameters as pycma sets them by default (cma/options_parameters.py CMAParameters, the sampler's
/// <c>parameters()</c> in cma/interfaces.py and CMAAdaptSigmaCSA in cma/sigma_adaptation.py; pycma 4.4.0 at
/// 8d16505): population 4 + ⌊3 ln n⌋, learning rates of the rank-one and rank-μ updates, the evolution paths'
/// cumulation constants and the CSA damping.
/// </summary>
public sealed class CmaParameters
{
    public CmaParameters(int dimension, int? popsize = null)
    {
        if (dimension < 1)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "the search needs at least one variable");
        int n = dimension;
        N = n;
        // popsize='4 + 3 * math.log(N)' evaluated, then int(popsize + N**0.0 - 1).
        Lambda = popsize ?? (int)(4 + 3 * Math.Log(n));
        Weights = new RecombinationWeights(Lambda);
        double mueff = Weights.MuEff;

        // Mirrored sampling (CMA_mirrors='popsize < 6') only enters the CSA damping: in parallel mode pycma samples no
        // mirrors (its selective mirrors act in ask_and_eval's rejection loop, which a parallel objective never enters).
        LambdaMirrored = Lambda < 6 ? (int)(0.5 + 0.16 * Math.Min(Lambda, 2 * n + 2) + 0.29) : 0;

        Cc = (4.0 + mueff / n) / (n + (4.0 + 2 * mueff / n));
        C1 = Math.Min(1, Lambda / 6.0) * 2 / (Math.Pow(n + 1.3, 2) + mueff);
        Cmu = Math.Min(1 - C1, 2 * (0.25 + mueff - 2 + 1 / mueff) / (Math.Pow(n + 2, 2) + 2 * mueff / 2));
        Weights.FinalizeNegative(n, C1, Cmu);

        Cs = (mueff + 2) / (n + (mueff + 3));
        Damps = 0.5 + Math.Min(1, Math.Pow(LambdaMirrored / (0.159 * Lambda) - 1, 2)) / 2
                + 2 * Math.Max(0, Math.Sqrt((mueff - 1) / (n + 1)) - 1) + Cs;
        ChiN = ChiNorm(n);
        // lazy_update_gap = 1 / (c1 + cmu + 1e-23) / N / 10 iterations between eigendecompositions.
        LazyUpdateGap = 1 / (C1 + Cmu + 1e-23) / n / 10;
        // maxiter='100 + 150 * (N+3)**2 // popsize**0.5' (floor division of a float).
        MaxIterations = 100 + Math.Floor(150 * Math.Pow(n + 3, 2) / Math.Sqrt(Lambda));
        TolStagnation = (int)(100 + 100 * Math.Pow(n, 1.5) / Lambda);
    }

    public int N { get; }

    /// <summary>λ, candidates per generation.</summary>
    public int Lambda { get; }

    public RecombinationWeights Weights { get; }

    /// <summary>pycma's lam_mirr (only in the damping here; see the constructor).</summary>
    public int LambdaMirrored { get; }

    public double Cc { get; }

    public double C1 { get; }

    public double Cmu { get; }

    public double Cs { get; }

    public double Damps { get; }

    /// <summary>E‖N(0, I)‖ as pycma's Mh.chiN: exact below 7, else √n (1 − 1/(4n) + 1/(26n²)).</summary>
    public double ChiN { get; }

    public double LazyUpdateGap { get; }

    public double MaxIterations { get; }

    public int TolStagnation { get; }

    private static readonly double[] ExactChi = [0.7978845608028654, 1.2533141373156, 1.59576912160573, 1.87997120597325, 2.1276921621409746, 2.3499640074665633];

    internal static double ChiNorm(int n) => n <= 6 ? ExactChi[n - 1] : Math.Sqrt(n) * (1 - 1.0 / (4 * n) + 1.0 / (26.0 * n * n));
}
