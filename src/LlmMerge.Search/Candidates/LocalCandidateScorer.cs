using LlmMerge.Search.Scoring;

namespace LlmMerge.Search.Candidates;

/// <summary>
/// Candidates merged and scored in this process: <c>jobs</c> resident models (<see cref="InMemoryEvaluator"/>),
/// each candidate on whichever is free (mergekit-evolve's actor pool).
/// </summary>
public sealed class LocalCandidateScorer : ICandidateScorer
{
    private readonly PreparedSearch _search;
    private readonly List<InMemoryEvaluator> _evaluators;
    private readonly Stack<InMemoryEvaluator> _idle;

    public LocalCandidateScorer(PreparedSearch search, ITaskScorer scorer, string workDir, int jobs)
    {
        _search = search;
        // Tiny models run best with one libtorch thread per job (intra-op threads spin-wait on a busy machine);
        // a single job of a large model keeps every core.
        Modeling.Torch.TorchRuntime.Initialize();
        TorchSharp.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / jobs));
        _evaluators = Enumerable.Range(0, jobs).Select(_ => new InMemoryEvaluator(search.Models, search.MergeOptions, scorer, workDir)).ToList();
        _idle = new Stack<InMemoryEvaluator>(_evaluators);
    }

    public void Score(IReadOnlyList<CandidateJob> candidates, Action<CandidateJob, SortedDictionary<string, TaskScore>, double> scored)
    {
        Parallel.ForEach(candidates, new ParallelOptions { MaxDegreeOfParallelism = _evaluators.Count }, c =>
        {
            InMemoryEvaluator evaluator;
            lock (_idle) evaluator = _idle.Pop();
            try
            {
                var started = System.Diagnostics.Stopwatch.StartNew();
                var scores = evaluator.Evaluate(_search.Recipe(c.Genotype, $"candidate {c.Generation}.{c.Index}"), _search.Tasks);
                scored(c, scores, started.Elapsed.TotalSeconds);
            }
            finally
            {
                lock (_idle) _idle.Push(evaluator);
            }
        });
    }

    public void Dispose()
    {
        foreach (var e in _evaluators) e.Dispose();
    }
}
