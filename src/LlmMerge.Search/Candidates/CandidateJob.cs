namespace LlmMerge.Search.Candidates;

/// <summary>One candidate of a generation that the store does not hold yet: where it stands, its key and genotype.</summary>
/// <param name="Generation">The generation it was asked in (one past the last for the final mean).</param>
/// <param name="Index">Its place in the generation.</param>
/// <param name="Fingerprint">Its candidate fingerprint, the key of its scores.</param>
/// <param name="Genotype">What CMA-ES asked; the recipe follows from it and the genome.</param>
public sealed record CandidateJob(int Generation, int Index, string Fingerprint, double[] Genotype);
