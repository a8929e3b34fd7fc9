namespace LlmMerge.Search.Cma;

/// <summary>
/// CMA-ES with pycma's defaults (cma/evolution_strategy.py, pycma 4.4.0 at 8d16505): (μ/μ_w, λ) recombination with
/// active (negative) weights, cumulative step-size adaptation, rank-one and rank-μ covariance updates with the
/// stall of the rank-one path (hsig), a full covariance matrix decomposed lazily. Ask and tell, as pycma's class.
/// Left out, as no genome reaches them: boundaries, integer variables, injections, mirrored sampling (pycma samples
/// none in parallel mode), the coordinate and axis conditioning alleviation (above condition 1e8 and 1e12) and the
/// rescaling after a 1e9-fold step-size increase.
/// </summary>
public sealed class CmaEvolutionStrategy
{
    private readonly CmaRandom _random;
    private readonly GaussFullSampler _sampler;
    private readonly double[] _pc;
    private readonly double[] _ps;
    private readonly CmaStopConditions _stops;

    public CmaEvolutionStrategy(IReadOnlyList<double> x0, double sigma0, CmaOptions options)
    {
        if (!(sigma0 > 0) || double.IsInfinity(sigma0))
            throw new ArgumentOutOfRangeException(nameof(sigma0), sigma0, "sigma0 must be a positive number");
        Options = options;
        Parameters = new CmaParameters(x0.Count, options.Popsize);
        N = x0.Count;
        Mean = x0.ToArray();
        Sigma0 = sigma0;
        Sigma = sigma0;
        _random = new CmaRandom(options.Seed);
        _sampler = new GaussFullSampler(N, Parameters.LazyUpdateGap);
        _pc = new double[N];
        _ps = new double[N];
        _stops = new CmaStopConditions(this);
    }

    public CmaOptions Options { get; }

    public CmaParameters Parameters { get; }

    public int N { get; }

    public double[] Mean { get; private set; }

    public double Sigma { get; private set; }

    public double Sigma0 { get; }

    /// <summary>Generations told so far.</summary>
    public int CountIter { get; private set; }

    /// <summary>Evaluations told so far (plus the final mean once evaluated).</summary>
    public int CountEvals { get; internal set; }

    public CmaBest Best { get; } = new();

    internal GaussFullSampler Sampler => _sampler;

    internal double[] Pc => _pc;

    /// <summary>Sorted values of the last generation.</summary>
    internal double[] SortedFitness { get; private set; } = [];

    /// <summary>Best value of each recent generation, newest first (pycma's fit.hist).</summary>
    internal List<double> History { get; } = [];

    /// <summary>Every fifth generation's best and median, newest first (pycma's fit.histbest, fit.histmedian).</summary>
    internal List<double> HistoryBest { get; } = [];

    internal List<double> HistoryMedian { get; } = [];

    /// <summary>The candidates of the next generation: mean + σ·B(D∘z), z standard normal.</summary>
    public double[][] Ask()
    {
        _sampler.UpdateNow();
        var pop = new double[Parameters.Lambda][];
        for (int k = 0; k < pop.Length; k++)
        {
            var z = new double[N];
            for (int i = 0; i < N; i++) z[i] = _random.NextGaussian();
            var y = _sampler.Transform(z);
            var x = new double[N];
            for (int i = 0; i < N; i++) x[i] = Mean[i] + Sigma * y[i];
            pop[k] = x;
        }
        return pop;
    }

    /// <summary>Updates mean, paths, covariance and step size from a generation and its values (to be minimised).</summary>
    public void Tell(IReadOnlyList<double[]> solutions, IReadOnlyList<double> values)
    {
        int lam = solutions.Count;
        if (lam != values.Count)
            throw new ArgumentException($"{values.Count} values for {lam} solutions");
        if (lam < Parameters.Weights.Mu)
            throw new ArgumentException($"not enough solutions ({lam} < mu = {Parameters.Weights.Mu})");
        var f = values.ToArray();
        // pycma sets NaN values to the median of the others.
        if (f.Any(double.IsNaN))
        {
            var finite = f.Where(v => !double.IsNaN(v)).Order().ToArray();
            double m = finite.Length == 0 ? double.NaN : finite.Length % 2 == 1 ? finite[finite.Length / 2] : (finite[finite.Length / 2 - 1] + finite[finite.Length / 2]) / 2;
            for (int i = 0; i < f.Length; i++) if (double.IsNaN(f[i])) f[i] = m;
        }

        CountIter++;
        CountEvals += lam;
        Best.Update(solutions, f, CountEvals);

        // Ranking: a stable sort, so equal values keep sampling order (numpy's argsort sorts fewer than 17 entries
        // by insertion, which is stable too).
        var idx = Enumerable.Range(0, lam).OrderBy(i => f[i]).ToArray();
        SortedFitness = idx.Select(i => f[i]).ToArray();
        RecordHistory();

        var weights = Parameters.Weights;
        var mold = Mean;
        var mean = new double[N];
        for (int k = 0; k < weights.Mu; k++)
        {
            var x = solutions[idx[k]];
            for (int i = 0; i < N; i++) mean[i] += weights[k] * x[i];
        }
        Mean = mean;

        double cc = Parameters.Cc, c1 = Parameters.C1, cmu = Parameters.Cmu, cs = Parameters.Cs;
        double mueff = weights.MuEff;
        var shift = new double[N];
        for (int i = 0; i < N; i++) shift[i] = mean[i] - mold[i];

        // CSA path from the isotropic mean shift, with B and D of the last decomposition.
        var z = _sampler.TransformInverse(shift);
        double zfac = Math.Sqrt(mueff) / Sigma;
        double sq = Math.Sqrt(cs * (2 - cs));
        for (int i = 0; i < N; i++) _ps[i] = (1 - cs) * _ps[i] + sq * (z[i] * zfac);
        double psSquared = _ps.Sum(v => v * v);
        bool hsig = psSquared / (1 - Math.Pow(1 - cs, 2 * CountIter)) / N - 1 < 1 + 4.0 / (N + 1);
        double h = hsig ? 1 : 0;

        double c1a = c1 * (1 - (1 - h * h) * cc * (2 - cc));
        double pcfac = h * Math.Sqrt(cc * (2 - cc) * mueff) / Sigma;
        for (int i = 0; i < N; i++) _pc[i] = (1 - cc) * _pc[i] + pcfac * shift[i];

        if (c1a + cmu > 0)
        {
            var vectors = new List<double[]>(lam + 1);
            var ws = new List<double>(lam + 1);
            double pcScale = Math.Sqrt(c1 / (c1a + 1e-23));
            vectors.Add(_pc.Select(v => pcScale * v).ToArray());
            ws.Add(c1a);
            for (int k = 0; k < lam; k++)
            {
                var x = solutions[idx[k]];
                var v = new double[N];
                for (int i = 0; i < N; i++) v[i] = (x[i] - mold[i]) / Sigma;
                vectors.Add(v);
                ws.Add(cmu * weights[k]);
            }
            _sampler.Update(vectors, ws);
        }

        double s = (Math.Sqrt(psSquared) / Parameters.ChiN - 1) * cs / Parameters.Damps;
        Sigma *= Math.Exp(Math.Clamp(s, -1, 1));
        _stops.AfterTell();
    }

    private void RecordHistory()
    {
        var fit = SortedFitness;
        History.Insert(0, fit[0]);
        int half = fit.Length / 2;
        double median = fit.Length % 2 == 1 ? fit[half] : (fit[half - 1] + fit[half]) / 2;
        if (CountIter % 5 == 0)
        {
            HistoryBest.Insert(0, fit[0]);
            HistoryMedian.Insert(0, median);
        }
        if (HistoryBest.Count > 20000)
        {
            HistoryBest.RemoveAt(HistoryBest.Count - 1);
            HistoryMedian.RemoveAt(HistoryMedian.Count - 1);
        }
        if (History.Count > 10 + 30.0 * N / Parameters.Lambda)
            History.RemoveAt(History.Count - 1);
    }

    /// <summary>The termination conditions that hold now, by pycma's names; empty before the first generation.</summary>
    public IReadOnlyList<string> Stop() => _stops.Current;

    /// <summary>Counts an extra evaluation (the final mean) and keeps it if it is the best.</summary>
    internal void TellExtra(double[] x, double f)
    {
        CountEvals++;
        Best.Update([x], [f], CountEvals);
    }
}
