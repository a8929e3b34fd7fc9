using System.Text.Json;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Core.Models;

/// <summary>
/// A Hugging Face model folder: <c>config.json</c> plus its weights in <c>model.safetensors</c>, shards listed by
/// <c>model.safetensors.index.json</c>, or any <c>*.safetensors</c> files; where there are none, as transformers
/// falls back, PyTorch's <c>pytorch_model.bin</c> or the shards <c>pytorch_model.bin.index.json</c> lists. Shards are
/// opened lazily and kept memory-mapped until the folder is disposed.
/// </summary>
public sealed class ModelFolder : IDisposable
{
    private readonly Dictionary<string, string> _tensorFile = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ITensorFile> _open = new();
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
        try
        {
            string indexPath = System.IO.Path.Combine(directory, SafetensorsIndex);
            string binIndexPath = System.IO.Path.Combine(directory, PyTorchIndex);
            var safetensors = System.IO.Directory.GetFiles(directory, "*.safetensors").Select(System.IO.Path.GetFileName).OrderBy(f => f, StringComparer.Ordinal).ToList();
            if (File.Exists(indexPath))
            {
                ReadIndex(indexPath, names);
            }
            else if (safetensors.Count > 0)
            {
                foreach (var file in safetensors)
                    AddWholeFile(file!, names);
            }
            else if (File.Exists(binIndexPath))
            {
                ReadIndex(binIndexPath, names);
            }
            else if (File.Exists(System.IO.Path.Combine(directory, PyTorchWeights)))
            {
                AddWholeFile(PyTorchWeights, names);
            }
        }
        catch
        {
            // A shard that fails to open must not leave the ones before it mapped.
            Dispose();
            throw;
        }
        TensorNames = names;
    }

    private const string SafetensorsIndex = "model.safetensors.index.json";
    private const string PyTorchIndex = "pytorch_model.bin.index.json";
    private const string PyTorchWeights = "pytorch_model.bin";

    private void ReadIndex(string indexPath, List<string> names)
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
            if (!File.Exists(System.IO.Path.Combine(Directory, file)))
                throw new LlmMergeException($"{indexPath}: lists shard '{file}', which is missing from {Directory}");
        }
    }

    private void AddWholeFile(string file, List<string> names)
    {
        var st = OpenShard(file);
        foreach (var t in st.Tensors)
        {
            if (!_tensorFile.TryAdd(t.Name, file))
                throw new LlmMergeException($"{Directory}: tensor '{t.Name}' appears in both {_tensorFile[t.Name]} and {file}");
            names.Add(t.Name);
        }
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
            throw new LlmMergeException($"{directory}: no weights (model.safetensors, *.safetensors, pytorch_model.bin, or the index of their shards)");
        }
        return m;
    }

    public bool Contains(string name) => _tensorFile.ContainsKey(name);

    public TensorInfo GetInfo(string name) => GetFile(name).GetInfo(name);

    /// <summary>The memory-mapped file holding a tensor.</summary>
    public ITensorFile GetFile(string name)
    {
        if (!_tensorFile.TryGetValue(name, out var file))
            throw new LlmMergeException($"{Directory}: no tensor named '{name}'");
        var st = OpenShard(file);
        if (!st.Contains(name))
            throw new LlmMergeException($"{System.IO.Path.Combine(Directory, file)}: the index says it holds '{name}', but it does not");
        return st;
    }

    private ITensorFile OpenShard(string file)
    {
        lock (_gate)
        {
            if (!_open.TryGetValue(file, out var st))
            {
                st = TensorFiles.Open(System.IO.Path.Combine(Directory, file));
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
