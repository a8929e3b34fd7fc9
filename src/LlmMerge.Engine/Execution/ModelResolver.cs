using LlmMerge.Models;
using LlmMerge.Recipes;

namespace LlmMerge.Execution;

/// <summary>
/// Finds the folder of each model a recipe names (a path relative to the working directory or to the recipe,
/// or an absolute path) and keeps each open once for the whole merge.
/// </summary>
public sealed class ModelResolver : IDisposable
{
    private readonly IReadOnlyList<string> _searchDirs;
    private readonly Dictionary<string, ModelFolder> _open = new(StringComparer.Ordinal);
    private readonly Func<string, string?>? _fallback;

    /// <param name="searchDirs">Folders relative paths are tried against, in order.</param>
    /// <param name="fallback">Resolves what is not a local folder (e.g. a Hub id in the local cache); null when unknown.</param>
    public ModelResolver(IEnumerable<string> searchDirs, Func<string, string?>? fallback = null)
    {
        _searchDirs = searchDirs.ToList();
        _fallback = fallback;
    }

    public string ResolvePath(string model)
    {
        if (Path.IsPathRooted(model))
            return Directory.Exists(model) ? model : throw NotFound(model);
        foreach (var dir in _searchDirs)
        {
            string p = Path.GetFullPath(Path.Combine(dir, model));
            if (Directory.Exists(p))
                return p;
        }
        return _fallback?.Invoke(model) ?? throw NotFound(model);
    }

    private LlmMergeException NotFound(string model) => new(
        $"model '{model}': no such folder (looked in {string.Join(", ", _searchDirs.Select(d => Path.GetFullPath(d)).Distinct())}); "
        + "for a Hub model run 'llmmerge fetch " + model + "' first, or give a local path");

    public ModelFolder Open(ModelReference reference)
    {
        if (reference.Lora is not null)
            throw new LlmMergeException($"model '{reference}': LoRA adapters as inputs are not supported yet; merge the adapter into its base first");
        string path = ResolvePath(reference.Model);
        lock (_open)
        {
            if (!_open.TryGetValue(path, out var folder))
                _open[path] = folder = ModelFolder.Open(path);
            return folder;
        }
    }

    public void Dispose()
    {
        foreach (var f in _open.Values)
            f.Dispose();
        _open.Clear();
    }
}
