namespace LlmMerge.Search.Cma;

/// <summary>
/// pycma's <c>fmin2(None, parallel_objective=..., x0, sigma0, options, callback)</c> as mergekit-evolve calls it,
/// restarts off: ask a generation, evaluate it in one call, tell, call back, until a termination condition holds;
/// then evaluate the final mean once (fmin wraps the parallel objective into a single-point one, so
/// <c>eval_final_mean</c> applies) and return the best evaluated point.
/// </summary>
public static class CmaMinimizer
{
    /// <param name="x0">The initial mean.</param>
    /// <param name="sigma0">The initial step size.</param>
    /// <param name="options">Seed, population and termination settings.</param>
    /// <param name="objective">Values (to minimise) of a whole generation, in order.</param>
    /// <param name="callback">After each generation's tell.</param>
    /// <param name="finalMean">Called with the final mean before it is evaluated (by <paramref name="objective"/>, as one point).</param>
    public static CmaEvolutionStrategy Minimize(IReadOnlyList<double> x0, double sigma0, CmaOptions options,
        Func<IReadOnlyList<double[]>, IReadOnlyList<double>> objective, Action<CmaEvolutionStrategy>? callback = null,
        Action<double[]>? finalMean = null)
    {
        var es = new CmaEvolutionStrategy(x0, sigma0, options);
        while (es.CountIter == 0 || es.Stop().Count == 0)
        {
            var x = es.Ask();
            var f = objective(x);
            es.Tell(x, f);
            callback?.Invoke(es);
        }
        if (options.EvalFinalMean)
        {
            var mean = (double[])es.Mean.Clone();
            finalMean?.Invoke(mean);
            es.TellExtra(mean, objective([mean])[0]);
        }
        return es;
    }
}
