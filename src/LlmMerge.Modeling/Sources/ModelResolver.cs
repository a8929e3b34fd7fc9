using LlmMerge.Core;
using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;

namespace LlmMerge.Modeling.Sources;

/// <summary>
/// Finds the folder of each model a recipe names (a path relative to the working directory or to the recipe,
/// or an absolute path) and keeps each open once for the whole merge. LoRA adapters (<c>BASE+ADAPTER</c>, or an
/// adapter folder whose adapter_config.json names its base) become sources that apply the adapter as tensors are read.
/// </summary>
public sealed class ModelResolver : IDisposable
{
    private readonly IReadOnlyList<string> _searchDirs;
    private readonly Dictionary<string, ModelFolder> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoraAdapter> _adapters = new(StringComparer.Ordinal);
    private readonly Dictionary<ModelReference, IModelSource> _sources = new();
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

    /// <summary>The folder of a plain model reference (no adapter).</summary>
    public ModelFolder Open(ModelReference reference)
    {
        if (reference.Lora is not null)
            throw new LlmMergeException($"model '{reference}': a LoRA reference has no folder of its own; read it through Source");
        return OpenFolder(ResolvePath(reference.Model));
    }

    /// <summary>The model a reference names, as the planner and executor read it; adapters are checked against their base here.</summary>
    public IModelSource Source(ModelReference reference)
    {
        lock (_sources)
        {
            if (_sources.TryGetValue(reference, out var cached))
                return cached;
        }
        IModelSource source;
        if (reference.Lora is { } lora)
        {
            source = Adapted(reference, reference.Model, ResolvePath(lora));
        }
        else
        {
            string path = ResolvePath(reference.Model);
            if (LoraAdapter.IsAdapterFolder(path))
            {
                var adapter = OpenAdapter(path);
                string baseName = adapter.Config.BaseModelNameOrPath
                    ?? throw new LlmMergeException(
                        $"model '{reference}' is a LoRA adapter whose {LoraAdapter.ConfigFile} does not name its base (base_model_name_or_path); write it as BASE+{reference.Model}");
                source = Adapted(reference, baseName, path);
            }
            else
            {
                source = new FolderModelSource(reference, OpenFolder(path));
            }
        }
        lock (_sources)
            return _sources.TryAdd(reference, source) ? source : _sources[reference];
    }

    private LoraModelSource Adapted(ModelReference reference, string baseName, string adapterPath)
    {
        var adapter = OpenAdapter(adapterPath);
        string basePath;
        try
        {
            basePath = ResolvePath(baseName);
        }
        catch (LlmMergeException) when (!Path.IsPathRooted(baseName) && Directory.Exists(Path.Combine(adapterPath, baseName)))
        {
            // PEFT records the base as it was named at training time; a relative name may be relative to the adapter.
            basePath = Path.GetFullPath(Path.Combine(adapterPath, baseName));
        }
        if (LoraAdapter.IsAdapterFolder(basePath))
            throw new LlmMergeException($"model '{reference}': base '{baseName}' is itself a LoRA adapter; stacked adapters are not supported");
        var baseFolder = OpenFolder(basePath);
        adapter.CheckAgainst(baseFolder, reference.Lora ?? reference.Model, baseName);
        return new LoraModelSource(reference, baseFolder, adapter);
    }

    private ModelFolder OpenFolder(string path)
    {
        lock (_open)
        {
            if (!_open.TryGetValue(path, out var folder))
                _open[path] = folder = ModelFolder.Open(path);
            return folder;
        }
    }

    private LoraAdapter OpenAdapter(string path)
    {
        lock (_adapters)
        {
            if (!_adapters.TryGetValue(path, out var adapter))
                _adapters[path] = adapter = LoraAdapter.Open(path);
            return adapter;
        }
    }

    public void Dispose()
    {
        foreach (var f in _open.Values)
            f.Dispose();
        foreach (var a in _adapters.Values)
            a.Dispose();
        _open.Clear();
        _adapters.Clear();
        _sources.Clear();
    }
}
