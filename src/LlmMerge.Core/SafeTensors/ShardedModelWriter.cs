using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmMerge.Core.SafeTensors;

/// <summary>
/// Writes a model's tensors into shards the way mergekit does: tensors in order, a new shard whenever the next
/// tensor would push the current one past the shard size; files named <c>model-0000i-of-0000n.safetensors</c>
/// with <c>model.safetensors.index.json</c> (<c>metadata.total_size</c>, <c>weight_map</c>), or a single
/// <c>model.safetensors</c> when everything fits in one shard.
/// </summary>
public sealed class ShardedModelWriter : IDisposable
{
    /// <summary>mergekit's default --out-shard-size, 5B (decimal).</summary>
    public const long DefaultShardBytes = 5_000_000_000;

    private readonly Dictionary<string, SafetensorsWriter> _byTensor = new();
    private readonly List<SafetensorsWriter> _shards = new();
    private readonly string _folder;

    /// <summary>Tensor name → shard file name, in write order.</summary>
    public IReadOnlyDictionary<string, string> WeightMap { get; }

    public long TotalBytes { get; }

    public ShardedModelWriter(string folder, IReadOnlyList<(string Name, SafetensorsDType DType, long[] Shape)> tensors, long maxShardBytes = DefaultShardBytes)
    {
        if (maxShardBytes <= 0)
            throw new LlmMergeException($"--out-shard-size must be positive (got {maxShardBytes})");
        _folder = folder;
        var groups = new List<List<(string, SafetensorsDType, long[])>>();
        long current = 0;
        foreach (var t in tensors)
        {
            long bytes = t.Shape.Aggregate(1L, (a, b) => a * b) * t.DType.SizeOf();
            if (groups.Count == 0 || (groups[^1].Count > 0 && current + bytes > maxShardBytes))
            {
                groups.Add(new());
                current = 0;
            }
            groups[^1].Add(t);
            current += bytes;
            TotalBytes += bytes;
        }
        var map = new Dictionary<string, string>();
        for (int i = 0; i < groups.Count; i++)
        {
            string file = groups.Count == 1 ? "model.safetensors" : $"model-{i + 1:D5}-of-{groups.Count:D5}.safetensors";
            var writer = new SafetensorsWriter(System.IO.Path.Combine(folder, file), groups[i]);
            _shards.Add(writer);
            foreach (var (name, _, _) in groups[i])
            {
                _byTensor[name] = writer;
                map[name] = file;
            }
        }
        WeightMap = map;
    }

    public IReadOnlyList<string> ShardFiles => _shards.Select(s => System.IO.Path.GetFileName(s.Path)).ToList();

    public TensorInfo GetInfo(string name) => _byTensor[name].Tensors.First(t => t.Name == name);

    public void Write(string name, ReadOnlySpan<byte> data, long offsetInTensor = 0) =>
        _byTensor[name].Write(name, data, offsetInTensor);

    /// <summary>Flushes every shard and writes the index when there is more than one.</summary>
    public void Complete()
    {
        foreach (var s in _shards)
            s.Complete();
        if (_shards.Count > 1)
        {
            var weightMap = new JsonObject();
            foreach (var (k, v) in WeightMap.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                weightMap[k] = v;
            var index = new JsonObject
            {
                ["metadata"] = new JsonObject { ["total_size"] = TotalBytes },
                ["weight_map"] = weightMap,
            };
            File.WriteAllText(System.IO.Path.Combine(_folder, "model.safetensors.index.json"),
                index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
    }

    public void Dispose()
    {
        foreach (var s in _shards)
            s.Dispose();
    }

    /// <summary>Parses a shard size as mergekit does: a byte count or a number with K, M or B (powers of 1000).</summary>
    public static long ParseShardSize(string text)
    {
        string t = text.Trim();
        long mult = 1;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            mult = char.ToUpperInvariant(t[^1]) switch
            {
                'K' => 1000L,
                'M' => 1000L * 1000,
                'B' or 'G' => 1000L * 1000 * 1000,
                _ => throw new LlmMergeException($"--out-shard-size '{text}': use a byte count or a number with K, M or B"),
            };
            t = t[..^1];
        }
        if (!long.TryParse(t, out long n) || n <= 0)
            throw new LlmMergeException($"--out-shard-size '{text}': use a positive byte count or a number with K, M or B");
        return n * mult;
    }
}
