using LlmMerge.Contracts.Hub;
using LlmMerge.Core;
using LlmMerge.Modeling.Sources;

namespace LlmMerge.Eval.Routing;

/// <summary>
/// Finds the models a router names and checks they are the ones it was built with: a Hub expert in the Hugging Face
/// cache at its commit, else the recorded path relative to the router folder, else <c>experts/NAME/</c> inside it (where
/// a copied or published router's experts go); a local expert's files must still have the recorded fingerprint.
/// </summary>
public static class RouterExperts
{
    /// <summary>The folder of <paramref name="entry"/> (checked), for the router in <paramref name="routerDir"/>.</summary>
    public static string Locate(string routerDir, RouterExpertEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var candidates = new List<string>();
        if (entry.Repo is { } repo && entry.Revision is { } commit)
            candidates.Add(HubCacheLocation.Snapshot(HubCacheLocation.CacheDir((string?)null), repo, commit));
        candidates.Add(Path.GetFullPath(Path.Combine(routerDir, entry.Path)));
        candidates.Add(Path.Combine(Path.GetFullPath(routerDir), "experts", entry.Name));
        string? found = candidates.FirstOrDefault(Directory.Exists);
        if (found is null)
            throw new LlmMergeException($"{Path.Combine(routerDir, RouterManifest.FileName)}: {(entry.Name == "base" ? "the base" : $"expert '{entry.Name}'")} is not at {string.Join(" nor ", candidates)}; "
                + (entry.Repo is null ? "put it there" : $"run 'llmmerge fetch {entry.Repo} --revision {entry.Revision}' or put it there"));

        using var resolver = new ModelResolver([Directory.GetCurrentDirectory()]);
        var model = RouterModel.Resolve(resolver, entry.Name, found, $"expert '{entry.Name}'");
        string fingerprint = model.Fingerprint();
        if (fingerprint != entry.Fingerprint)
            throw new LlmMergeException($"{Path.Combine(routerDir, RouterManifest.FileName)}: {(entry.Name == "base" ? "the base" : $"expert '{entry.Name}'")} at {found} has changed since the router was built (fingerprint {fingerprint[..12]}, built with {entry.Fingerprint[..12]}); build the router again or restore the model");
        return found;
    }

    /// <summary>Bytes a model is expected to take once loaded in float32: twice its stored weights (bf16 widened), the base's for an adapter.</summary>
    public static long EstimatedBytes(string folder)
    {
        using var resolver = new ModelResolver([Directory.GetCurrentDirectory()]);
        var model = RouterModel.Resolve(resolver, "", folder, folder);
        long stored = Directory.EnumerateFiles(model.ConfigFolder, "*.safetensors").Sum(f => new FileInfo(f).Length);
        if (model.IsAdapter)
            stored += Directory.EnumerateFiles(model.Folder, "*.safetensors").Sum(f => new FileInfo(f).Length);
        return 2 * stored;
    }

    /// <summary>Half the memory the process may use: how much the resident experts may take together by default.</summary>
    public static long DefaultBudget() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
}
