using LlmMerge.Search.Cma;

namespace LlmMerge.Tests.Search;

/// <summary>
/// CMA-ES against pycma 4.4.0 (8d16505), the package mergekit-evolve calls: its documented strategy parameters, the
/// evaluation counts it needs on the sphere, the ellipsoid and Rosenbrock's function (measured with pycma on 30
/// seeds, see <see cref="ReferenceCounts"/>), and the way fmin2 with a parallel objective stops at maxfevals.
/// </summary>
public class CmaEsTests
{
    private static double Sphere(double[] x) => x.Sum(v => v * v);

    private static double Ellipsoid(double[] x)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += Math.Pow(1e6, i / (x.Length - 1.0)) * x[i] * x[i];
        return s;
    }

    private static double Rosenbrock(double[] x)
    {
        double s = 0;
        for (int i = 0; i < x.Length - 1; i++) s += 100 * Math.Pow(x[i + 1] - x[i] * x[i], 2) + Math.Pow(1 - x[i], 2);
        return s;
    }

    /// <summary>
    /// pycma 4.4.0, <c>CMAEvolutionStrategy(n * [x0], sigma0, {'ftarget': 1e-8, 'seed': s})</c> with ask/tell, seeds 1..30,
    /// n = 10 (popsize 10): evaluations until f ≤ 1e-8 (mean, standard deviation, runs reaching it).
    /// </summary>
    private static readonly (string Name, Func<double[], double> F, double X0, double Mean, double Sd, double Reached)[] ReferenceCounts =
    [
        ("sphere", Sphere, 0.5, 1250.7, 70.3, 30 / 30.0),
        ("ellipsoid", Ellipsoid, 0.5, 3819.7, 185.2, 30 / 30.0),
        ("rosenbrock", Rosenbrock, 0.1, 4873.8, 452.1, 29 / 30.0),
    ];

    [TestCaseSource(nameof(ProblemNames))]
    public void EvaluationCountsMatchPycma(string name)
    {
        var p = ReferenceCounts.Single(r => r.Name == name);
        var counts = new List<int>();
        const int runs = 12;
        for (ulong seed = 1; seed <= runs; seed++)
        {
            var es = new CmaEvolutionStrategy(Enumerable.Repeat(p.X0, 10).ToArray(), 0.3, new CmaOptions { Seed = seed, FTarget = 1e-8, MaxFevals = 1e5 });
            while (es.CountIter == 0 || es.Stop().Count == 0)
            {
                var x = es.Ask();
                es.Tell(x, x.Select(p.F).ToArray());
            }
            if (es.Stop().Contains("ftarget")) counts.Add(es.CountEvals);
        }
        double mean = counts.Average();
        TestContext.Out.WriteLine($"{name}: {counts.Count}/{runs} reached 1e-8, mean {mean:F0} evaluations ({string.Join(", ", counts)}); pycma {p.Mean}");
        Assert.That(counts.Count, Is.GreaterThanOrEqualTo((int)Math.Floor(runs * p.Reached) - 2), "runs that reach the target");
        // 12 runs: the standard error of the mean is sd/√12 (2 % to 3 % here); 10 % leaves room for the seeds drawn.
        Assert.That(mean, Is.EqualTo(p.Mean).Within(10).Percent);
    }

    private static IEnumerable<string> ProblemNames() => ReferenceCounts.Select(r => r.Name);

    /// <summary>pycma's CMAParameters docstring: <c>CMAEvolutionStrategy(20 * [0.1], 1).sp</c> (n = 20, popsize 12).</summary>
    [Test]
    public void StrategyParametersAreThosePycmaDocuments()
    {
        var p = new CmaParameters(20);
        Assert.That(p.Lambda, Is.EqualTo(12));
        Assert.That(p.Weights.Mu, Is.EqualTo(6));
        Assert.That(p.C1, Is.EqualTo(0.00437235).Within(1e-8));
        Assert.That(p.Cc, Is.EqualTo(0.171767).Within(1e-6));
        Assert.That(p.Cmu, Is.EqualTo(0.00921656).Within(1e-8));
        double[] documented = [0.4024029428, 0.2533890840, 0.1662215645, 0.1043752252, 0.05640347757, 0.01720770576,
            -0.05018713636, -0.1406167894, -0.2203813963, -0.2917332686, -0.3562788884, -0.4152044225];
        Assert.That(p.Weights.All, Is.EqualTo(documented).Within(1e-9));
    }

    /// <summary>
    /// Population size, damping and the finalized negative weights against a plain recomputation of pycma's formulas,
    /// and against values printed by pycma itself for n = 16 (damps 1.2520719455251188) and n = 1 (one mirror counted
    /// in the damping: 1.2974646598861792).
    /// </summary>
    [TestCase(1, 4, 1.2974646598861792)]
    [TestCase(2, 6, 1.5731731629916696)]
    [TestCase(10, 10, 1.3196142529106334)]
    [TestCase(16, 12, 1.2520719455251188)]
    public void PopulationAndDampingFollowPycma(int n, int lambda, double damps)
    {
        var p = new CmaParameters(n);
        Assert.That(p.Lambda, Is.EqualTo(lambda), "4 + floor(3 ln n)");
        Assert.That(p.Damps, Is.EqualTo(damps).Within(1e-12));
        var w = p.Weights.All;
        Assert.That(w.Where(x => x > 0).Sum(), Is.EqualTo(1).Within(1e-12), "positive weights sum to one");
        double negative = w.Where(x => x < 0).Sum();
        // Zero decay, c1 + cmu * sum(w) = 0, unless a limit applies (only for tiny n here).
        double zeroDecay = -(1 + p.C1 / p.Cmu); // the sum over all weights is 1 + negative
        double posDef = -(1 - p.C1 - p.Cmu) / p.Cmu / n;
        double mueffMinus = Math.Pow(negative, 2) / w.Where(x => x < 0).Sum(x => x * x);
        double learning = -(1 + 2 * mueffMinus / (p.Weights.MuEff + 2));
        Assert.That(negative, Is.EqualTo(Math.Max(zeroDecay, Math.Max(posDef, learning))).Within(1e-12));
    }

    /// <summary>
    /// mergekit calls fmin2 with maxfevals only: pycma stops once countevals − 1 ≥ maxfevals after a generation and then
    /// evaluates the final mean, so 100 evaluations become 109 at n = 16 (λ 12), 111 at n = 10, 103 at n = 2 (pycma's
    /// own counts for these settings).
    /// </summary>
    [TestCase(16, 100, 109)]
    [TestCase(10, 100, 111)]
    [TestCase(2, 100, 103)]
    [TestCase(16, 30, 37)]
    public void MaxFevalsStopsAsPycmaDoesAndTheFinalMeanIsEvaluated(int n, int maxFevals, int evaluations)
    {
        var calls = new List<int>();
        var es = CmaMinimizer.Minimize(Enumerable.Repeat(0.25, n).ToArray(), 1 / 6.0, new CmaOptions { MaxFevals = maxFevals, Seed = 3 },
            x => { calls.Add(x.Count); return x.Select(v => v.Sum(t => (t - 0.3) * (t - 0.3))).ToArray(); });
        Assert.That(es.CountEvals, Is.EqualTo(evaluations));
        Assert.That(calls.Sum(), Is.EqualTo(evaluations));
        Assert.That(calls[^1], Is.EqualTo(1), "the final mean, alone");
        Assert.That(es.Stop(), Does.Contain("maxfevals"));
    }

    [Test]
    public void ASeedRepeatsARunExactlyAndAnotherSeedDoesNot()
    {
        List<double[]> Run(ulong seed)
        {
            var seen = new List<double[]>();
            CmaMinimizer.Minimize(new double[6], 0.5, new CmaOptions { MaxFevals = 200, Seed = seed },
                x => { seen.AddRange(x); return x.Select(Rosenbrock).ToArray(); });
            return seen;
        }
        var a = Run(7);
        var b = Run(7);
        Assert.That(b, Has.Count.EqualTo(a.Count));
        for (int i = 0; i < a.Count; i++) Assert.That(b[i], Is.EqualTo(a[i]), $"candidate {i}");
        Assert.That(Run(8)[0], Is.Not.EqualTo(a[0]));
    }

    /// <summary>
    /// Accuracy on few rows is often flat: a generation of equal values stops by tolfun at once, and a best value equal
    /// to the 75th-percentile one in two generations running stops by tolflatfitness, as in pycma.
    /// </summary>
    [Test]
    public void FlatGenerationsStopTheSearch()
    {
        var constant = CmaMinimizer.Minimize(new double[4], 0.3, new CmaOptions { Seed = 1, EvalFinalMean = false }, x => x.Select(_ => 0.5).ToArray());
        Assert.That(constant.Stop(), Is.EqualTo(new[] { "tolfun" }));
        Assert.That(constant.CountIter, Is.EqualTo(1));

        // n = 4: lambda 8, so fit[int(0.75 * 8)] = fit[6] is 0 as the best is.
        var mostlyFlat = CmaMinimizer.Minimize(new double[4], 0.3, new CmaOptions { Seed = 1, EvalFinalMean = false },
            x => x.Select((_, k) => k < 7 ? 0.0 : 1.0).ToArray());
        Assert.That(mostlyFlat.Stop(), Is.EqualTo(new[] { "tolflatfitness" }));
        Assert.That(mostlyFlat.CountIter, Is.EqualTo(2));
    }

    [Test]
    public void JacobiEigendecompositionReconstructsTheMatrix()
    {
        var r = new CmaRandom(5);
        const int n = 9;
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) a[i, j] = a[j, i] = r.NextGaussian();
        var (values, vectors) = SymmetricEigen.Decompose(a);
        Assert.That(values, Is.Ordered);
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            double av = 0, orth = 0;
            for (int k = 0; k < n; k++)
            {
                av += a[i, k] * vectors[k, j];
                orth += vectors[k, i] * vectors[k, j];
            }
            Assert.That(av, Is.EqualTo(values[j] * vectors[i, j]).Within(1e-10), $"A v[{j}]");
            Assert.That(orth, Is.EqualTo(i == j ? 1 : 0).Within(1e-12), "orthonormal");
        }
    }

    [Test]
    public void GaussianDrawsHaveUnitVarianceAndUniformsFillTheUnitInterval()
    {
        var r = new CmaRandom(11);
        var g = Enumerable.Range(0, 200_000).Select(_ => r.NextGaussian()).ToArray();
        Assert.That(g.Average(), Is.EqualTo(0).Within(0.01));
        Assert.That(g.Average(v => v * v), Is.EqualTo(1).Within(0.01));
        var u = Enumerable.Range(0, 200_000).Select(_ => r.NextDouble()).ToArray();
        Assert.That(u.Min(), Is.GreaterThanOrEqualTo(0));
        Assert.That(u.Max(), Is.LessThan(1));
        Assert.That(u.Average(), Is.EqualTo(0.5).Within(0.005));
    }
}
