using LlmMerge.Search.Scoring;

namespace LlmMerge.Search.Candidates;

/// <summary>
/// Scores the candidates of one generation that are not stored yet, as many at once as it can, and returns when all
/// are scored (CMA-ES waits for the generation, as mergekit-evolve's pool strategy). <c>scored</c> is called once per
/// candidate as soon as it is done, from any thread, so the search stores each at once; a failure throws after the
/// candidates that did finish were reported.
/// </summary>
public interface ICandidateScorer : IDisposable
{
    void Score(IReadOnlyList<CandidateJob> candidates, Action<CandidateJob, SortedDictionary<string, TaskScore>, double> scored);
}
