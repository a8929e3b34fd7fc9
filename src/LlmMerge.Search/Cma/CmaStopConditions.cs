namespace LlmMerge.Search.Cma;

/// <summary>
/// pycma's termination conditions with their default thresholds (_CMAStopDict._update and _StopTolXStagnation in
/// cma/evolution_strategy.py, pycma 4.4.0 at 8d16505), evaluated once after each generation as fmin's loop does.
/// Timeout, tolfunrel (off by default) and callbacks are not checked.
/// </summary>
internal sealed class CmaStopConditions
{
    private readonly CmaEvolutionStrategy _es;
    private int _flatFitnessIterations;

    // tolxstagnation [1e-9, 20, 0.1]: the mean moving less than delta over 20 + 0.1·count iterations.
    private const double XDelta = 1e-9, XTimeOffset = 20, XTimeFraction = 0.1;
    private int _xCount, _xCountAtChange;
    private double[]? _xLast;

    public CmaStopConditions(CmaEvolutionStrategy es)
    {
        _es = es;
        _xLast = (double[])es.Mean.Clone();
    }

    public IReadOnlyList<string> Current { get; private set; } = [];

    public void AfterTell()
    {
        UpdateXStagnation(_es.Mean);
        Current = Evaluate();
    }

    private void UpdateXStagnation(double[] x)
    {
        _xCount++;
        double delta = XDelta * Math.Sqrt(Math.Max(1, (_xCount - _xCountAtChange) / XTimeThreshold));
        double moved = _xLast is null ? double.PositiveInfinity : Math.Sqrt(x.Zip(_xLast, (a, b) => (a - b) * (a - b)).Sum());
        if (delta < 0 || _xLast is null || moved > delta)
        {
            _xLast = (double[])x.Clone();
            _xCountAtChange = _xCount;
        }
    }

    private double XTimeThreshold => XTimeOffset + XTimeFraction * _xCount;

    private List<string> Evaluate()
    {
        var es = _es;
        var o = es.Options;
        var p = es.Parameters;
        var stops = new List<string>();
        void Add(string name, bool condition)
        {
            if (condition) stops.Add(name);
        }

        int n = es.N;
        var variances = es.Sampler.Variances;
        var stds = variances.Select(v => es.Sigma * Math.Sqrt(v)).ToArray();
        var fit = es.SortedFitness;

        Add("ftarget", es.Best.F <= o.FTarget);
        Add("maxfevals", es.CountEvals - 1 >= o.MaxFevals);
        Add("maxiter", es.CountIter >= p.MaxIterations);
        Add("tolfacupx", stds.Any(s => s > es.Sigma0 * o.TolFacUpX));
        Add("tolx", stds.All(s => s < o.TolX) && es.Pc.All(v => es.Sigma * v < o.TolX));
        double currentRange = fit.Max() - fit.Min();
        double historicRange = es.History.Max() - es.History.Min();
        Add("tolfun", currentRange < o.TolFun && historicRange < o.TolFun);
        Add("tolfunhist", es.History.Count > 9 && historicRange < o.TolFunHist);

        double l = Math.Max(p.TolStagnation / 5.0 / 2, es.HistoryBest.Count / 10.0);
        if (l <= es.CountIter)
        {
            int li = (int)l;
            var hb = es.HistoryBest;
            var hm = es.HistoryMedian;
            Add("tolstagnation", p.TolStagnation > 0 && es.CountIter > n * (5 + 100.0 / p.Lambda)
                && (es.CountEvals - es.Best.Evals) / (double)p.Lambda > p.TolStagnation / 2.0
                && hb.Count > 100 && 2 * li < hb.Count
                && Median(hm, 0, li) >= Median(hm, li, 2 * li)
                && Median(hb, 0, li) >= Median(hb, li, 2 * li));
        }
        Add("tolxstagnation", _xCount - _xCountAtChange > XTimeThreshold);
        double maxD = es.Sampler.D.Max();
        Add("tolupsigma", es.Sigma / maxD > es.Sigma0 * o.TolUpSigma);

        bool noEffectCoord = false;
        for (int i = 0; i < n; i++)
            noEffectCoord |= es.Mean[i] == es.Mean[i] + 0.2 * stds[i];
        Add("noeffectcoord", noEffectCoord);
        int axis = es.CountIter % n;
        bool noEffectAxis = true;
        for (int i = 0; i < n; i++)
            noEffectAxis &= es.Mean[i] == es.Mean[i] + 0.1 * es.Sigma * es.Sampler.D[axis] * es.Sampler.B[i, axis];
        Add("noeffectaxis", noEffectAxis);
        var d = es.Sampler.D;
        Add("tolconditioncov", d[^1] > Math.Sqrt(o.TolConditionCov) * d[0]);

        if (fit[0] < fit[(int)(0.75 * fit.Length)])
            _flatFitnessIterations = 0;
        else
            _flatFitnessIterations++;
        Add("tolflatfitness", _flatFitnessIterations > o.TolFlatFitness);
        return stops;
    }

    private static double Median(List<double> values, int from, int to)
    {
        var s = values.Skip(from).Take(to - from).Order().ToArray();
        if (s.Length == 0) return double.NaN;
        int h = s.Length / 2;
        return s.Length % 2 == 1 ? s[h] : (s[h - 1] + s[h]) / 2;
    }
}
