using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmMerge.Build;

/// <summary>
/// <c>PROJECT.lock.json</c>: the commit each Hub expert's revision resolved to. Later builds use the locked
/// commit, so a branch that moves on the Hub does not change the graph until the lock is refreshed.
/// </summary>
internal sealed class LockFile
{
    public sealed record Entry(string Repo, string Revision, string Commit);

    public SortedDictionary<string, Entry> Experts { get; } = new(StringComparer.Ordinal);

    public static LockFile Read(string path)
    {
        var lf = new LockFile();
        if (!File.Exists(path)) return lf;
        try
        {
            if (JsonNode.Parse(File.ReadAllText(path))?["experts"] is JsonObject experts)
            {
                foreach (var (name, node) in experts)
                {
                    string? repo = node?["repo"]?.GetValue<string>(), rev = node?["revision"]?.GetValue<string>(), commit = node?["commit"]?.GetValue<string>();
                    if (repo is not null && rev is not null && commit is not null)
                        lf.Experts[name] = new Entry(repo, rev, commit);
                }
            }
        }
        catch (JsonException)
        {
            // An unreadable lock is treated as absent: revisions resolve again and the file is rewritten.
        }
        return lf;
    }

    /// <summary>The locked commit for this repo and revision, or null when the entry is missing or stale.</summary>
    public string? Commit(string name, string repo, string revision) =>
        Experts.TryGetValue(name, out var e) && e.Repo == repo && e.Revision == revision ? e.Commit : null;

    public bool Write(string path)
    {
        var experts = new JsonObject();
        foreach (var (name, e) in Experts)
            experts[name] = new JsonObject { ["repo"] = e.Repo, ["revision"] = e.Revision, ["commit"] = e.Commit };
        var root = new JsonObject
        {
            ["comment"] = "Commits the Hub revisions of this merge graph resolved to. Refresh with -p:LlmMergeRefreshLock=true.",
            ["version"] = 1,
            ["experts"] = experts,
        };
        return StampFile.WriteIfDifferent(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
