namespace LlmMerge.Contracts.Fingerprints;

/// <summary>
/// The key of a search candidate's scores: its merge recipe, normalised as a graph step's is (models named by their
/// fingerprints, canonical YAML), the tasks it is scored on (each by the fingerprint of the rows scored and its
/// metric) and the tools that merge and score. The search keys its stored candidates by it, and a cluster worker
/// keys candidate jobs by it, so duplicates coalesce and a resumed search rescoring nothing it scored.
/// </summary>
public static class CandidateFingerprint
{
    /// <param name="recipeYaml">The candidate's recipe with every model named by its fingerprint.</param>
    /// <param name="tasks">Each task's name and content fingerprint, in the genome's order.</param>
    /// <param name="tool">A hash of the assemblies that merge and score.</param>
    public static string Of(string recipeYaml, IEnumerable<(string Name, string Fingerprint)> tasks, string tool)
    {
        var sb = new System.Text.StringBuilder("candidate v1\n");
        sb.Append("tool ").Append(tool).Append('\n');
        foreach (var (name, fp) in tasks)
            sb.Append("task ").Append(name).Append(' ').Append(fp).Append('\n');
        sb.Append(recipeYaml.ReplaceLineEndings("\n"));
        return ContentHash.Sha256(sb.ToString());
    }
}
