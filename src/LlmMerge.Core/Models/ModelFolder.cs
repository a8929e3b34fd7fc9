using System.Text.Json;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Core.Models;

/// <summary>
/// A Hugging Face model folder: <c>config.json</c> plus its weights in <c>model.safetensors</c>, shards listed by
/// <c>model.safetensors.index.json</c>, or any <c>*.safetensors</c> files. Shards are opened lazily and kept
/// memory-mapped until the folder is disposed.
/// </summary>
public sealed class ModelFolder : IDisposable
{
    private readonly Dictionary<string, string> _tensorFile = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SafetensorsFile> _open = new();
    private readonly object _gate = new();

    public string Directory { get; }

    public ModelConfig? Config { get; }

    /// <summary>Tensor names in the order their files list them.</summary>
    public IReadOnlyList<string> TensorNames { get; }

    private ModelFolder(string directory)
    {
        Directory = directory;
        string configPath = System.IO.Path.Combine(directory, "config.json");
        if (File.Exists(configPath))
            Config = ModelConfig.Load(configPath);

        var names = new List<string>();
        string indexPath = System.IO.Path.Combine(directory, "model.safetensors.index.json");
        if (File.Exists(indexPath))
        {
            using var doc = ParseJson(indexPath);
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new LlmMergeException($"{indexPath}: no weight_map object; the index is corrupt");
            foreach (var p in map.EnumerateObject())
            {
                string file = p.Value.GetString() ?? "";
                if (file.Contains("..") || System.IO.Path.IsPathRooted(file))
                    throw new LlmMergeException($"{indexPath}: weight_map names a file outside the folder: '{file}'");
                _tensorFile[p.Name] = file;
                names.Add(p.Name);
            }
            foreach (var file in _tensorFile.Values.Distinct())
            {
                if (!File.Exists(System.IO.Path.Combine(directory, file)))
                    throw new LlmMergeException($"{indexPath}: lists shard '{file}', which is missing from {directory}");
            }
        }
        else
        {
            var files = System.IO.Directory.GetFiles(directory, "*.safetensors").Select(System.IO.Path.GetFileName).OrderBy(f => f, StringComparer.Ordinal).ToList();
            foreach (var file in files)
            {
                var st = OpenShard(file!);
                foreach (var t in st.Tensors)
                {
                    if (!_tensorFile.TryAdd(t.Name, file!))
                        throw new LlmMergeException($"{directory}: tensor '{t.Name}' appears in both {_tensorFile[t.Name]} and {file}");
                    names.Add(t.Name);
                }
            }
        }
        TensorNames = names;
    }

    /// <summary>Opens a model folder; the message of any failure names the folder and what is missing.</summary>
    public static ModelFolder Open(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new LlmMergeException($"{directory}: model folder not found");
        var m = new ModelFolder(directory);
        if (m.TensorNames.Count == 0)
        {
            m.Dispose();
            throw new LlmMergeException($"{directory}: no safetensors weights (model.safetensors, an index, or *.safetensors); convert .bin checkpoints to safetensors first");
        }
        return m;
    }

    public bool Contains(string name) => _tensorFile.ContainsKey(name);

    public TensorInfo GetInfo(string name) => GetFile(name).GetInfo(name);

    /// <summary>The memory-mapped file holding a tensor.</summary>
    public SafetensorsFile GetFile(string name)
    {
        if (!_tensorFile.TryGetValue(name, out var file))
            throw new LlmMergeException($"{Directory}: no tensor named '{name}'");
        var st = OpenShard(file);
        if (!st.Contains(name))
            throw new LlmMergeException($"{System.IO.Path.Combine(Directory, file)}: the index says it holds '{name}', but it does not");
        return st;
    }

    private SafetensorsFile OpenShard(string file)
    {
        lock (_gate)
        {
            if (!_open.TryGetValue(file, out var st))
            {
                st = SafetensorsFile.Open(System.IO.Path.Combine(Directory, file));
                _open[file] = st;
            }
            return st;
        }
    }

    private static JsonDocument ParseJson(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new LlmMergeException($"{path}: not valid JSON ({e.Message})", e); }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var f in _open.Values)
                f.Dispose();
            _open.Clear();
        }
    }
}
