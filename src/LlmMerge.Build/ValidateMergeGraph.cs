using LlmMerge.Contracts.Hub;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LlmMerge.Build;

/// <summary>
/// Checks the graph (every problem an error at its item's line) and lists the Hub experts that must be fetched:
/// those with no usable lock entry, those whose locked snapshot is not in the cache, or all of them when the
/// lock is being refreshed.
/// </summary>
public sealed class ValidateMergeGraph : Microsoft.Build.Utilities.Task
{
    [Required] public string ProjectFile { get; set; } = "";
    public ITaskItem[] Experts { get; set; } = [];
    public ITaskItem[] Steps { get; set; } = [];
    public ITaskItem[] Evaluations { get; set; } = [];
    [Required] public string LockFile { get; set; } = "";
    public bool RefreshLock { get; set; }
    public string HubCacheDir { get; set; } = "";

    /// <summary>Hub experts to fetch: Repo and Revision (the locked commit when there is one).</summary>
    [Output] public ITaskItem[] Fetch { get; private set; } = [];

    public override bool Execute()
    {
        MergeGraph? graph = MergeGraph.Load(Log, ProjectFile, Experts, Steps, Evaluations);
        if (graph is null)
            return false;
        var lockFile = Build.LockFile.Read(LockFile);
        string cache = HubCacheLocation.CacheDir(HubCacheDir);
        var fetch = new List<ITaskItem>();
        foreach (ExpertNode e in graph.Experts.Values.Where(e => e.IsHub))
        {
            string? locked = RefreshLock ? null : lockFile.Commit(e.Name, e.Repo!, e.Revision);
            if (locked is not null && Directory.Exists(HubCacheLocation.Snapshot(cache, e.Repo!, locked)))
            {
                Log.LogMessage(MessageImportance.Low, $"Expert '{e.Name}': {e.Repo} locked at {locked}, in the cache.");
                continue;
            }
            var item = new TaskItem(e.Name);
            item.SetMetadata("Repo", e.Repo);
            item.SetMetadata("Revision", locked ?? e.Revision);
            ItemLocation at = graph.Locate(e.Item, "Expert");
            item.SetMetadata("DefinedIn", at.File);
            item.SetMetadata("Line", at.Line.ToString(System.Globalization.CultureInfo.InvariantCulture));
            fetch.Add(item);
        }
        Fetch = fetch.ToArray();
        return true;
    }
}
