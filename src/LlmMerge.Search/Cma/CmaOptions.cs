namespace LlmMerge.Search.Cma;

/// <summary>
/// The pycma options a search sets (cma/options_parameters.py, pycma 4.4.0 at 8d16505); everything not here is pycma's
/// default. mergekit-evolve passes only maxfevals (and timeout, popsize when forced).
/// </summary>
public sealed record CmaOptions
{
    /// <summary>Seed of <see cref="CmaRandom"/>.</summary>
    public ulong Seed { get; init; }

    /// <summary>λ; null is pycma's 4 + ⌊3 ln n⌋ (mergekit's --force-population-size).</summary>
    public int? Popsize { get; init; }

    /// <summary>Stop once countevals − 1 ≥ maxfevals (checked after each generation, so it overshoots by up to λ).</summary>
    public double MaxFevals { get; init; } = double.PositiveInfinity;

    /// <summary>Stop when the best value reaches this (minimisation).</summary>
    public double FTarget { get; init; } = double.NegativeInfinity;

    public double TolFun { get; init; } = 1e-11;

    public double TolFunHist { get; init; } = 1e-12;

    public double TolX { get; init; } = 1e-11;

    public double TolFacUpX { get; init; } = 1e3;

    public double TolUpSigma { get; init; } = 1e20;

    public double TolConditionCov { get; init; } = 1e14;

    /// <summary>Generations tolerated with the best value equal to the 75th-percentile one.</summary>
    public int TolFlatFitness { get; init; } = 1;

    /// <summary>pycma's eval_final_mean: evaluate the final mean once after the loop (fmin does, mergekit gets it).</summary>
    public bool EvalFinalMean { get; init; } = true;
}
