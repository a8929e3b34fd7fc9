namespace LlmMerge.Eval.Routing;

/// <summary>
/// A model a router names in router.json: its path relative to the router folder (or a Hub repository and commit), and
/// the fingerprint it had when the router was built, so a changed or missing expert is an error, not a silent change.
/// </summary>
/// <param name="Name">The expert's name (counts in RESULTS.json, the expert in SAMPLES.jsonl).</param>
/// <param name="Path">Where it was, relative to the router folder (absolute where no relative path exists).</param>
/// <param name="Repo">The Hub repository, when it came from the Hugging Face cache.</param>
/// <param name="Revision">The commit of that snapshot.</param>
/// <param name="Fingerprint">sha256 of its files (<see cref="ModelFingerprint"/>), or of its repository and commit.</param>
public sealed record RouterExpertEntry(string Name, string Path, string? Repo, string? Revision, string Fingerprint);
