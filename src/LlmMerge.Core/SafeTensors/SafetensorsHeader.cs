using System.Buffers.Binary;
using System.Text.Json;

namespace LlmMerge.Core.SafeTensors;

/// <summary>
/// A parsed and validated safetensors header. Validation follows the reference implementation (the Rust
/// safetensors crate): a capped header size, known dtypes, byte counts that match shapes, and offsets that tile
/// the data section exactly, with no overlap and no gap.
/// </summary>
public sealed class SafetensorsHeader
{
    /// <summary>The reference implementation's cap on the JSON header (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public required IReadOnlyList<TensorInfo> Tensors { get; init; }

    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>Offset of the data section from the start of the file (8 + header length).</summary>
    public required long DataStart { get; init; }

    public static SafetensorsHeader Parse(string path, ReadOnlySpan<byte> prefix, long fileLength, Func<long, byte[]> readHeader)
    {
        if (fileLength < 8)
            throw Bad(path, $"file is {fileLength} bytes, too short for a header; the file is truncated, download it again");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderBytes)
            throw Bad(path, $"header claims {n} bytes, over the {MaxHeaderBytes}-byte limit; the file is corrupt or not safetensors");
        if (8 + (long)n > fileLength)
            throw Bad(path, $"header claims {n} bytes but the file has {fileLength - 8} after the length; the file is truncated");
        byte[] json = readHeader((long)n);
        long dataLength = fileLength - 8 - (long)n;

        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw Bad(path, $"header is not valid JSON ({e.Message})"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad(path, "header is not a JSON object");
            var tensors = new List<TensorInfo>();
            var metadata = new Dictionary<string, string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw Bad(path, "__metadata__ is not an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw Bad(path, $"__metadata__ entry '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                tensors.Add(ParseTensor(path, prop));
            }

            // Offsets must tile [0, dataLength) exactly, as the reference implementation requires.
            var ordered = tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
            long expected = 0;
            foreach (var t in ordered)
            {
                if (t.Begin < expected)
                    throw Bad(path, $"tensor '{t.Name}' at bytes [{t.Begin}, {t.End}) overlaps the previous tensor (which ends at {expected}); the header lies about offsets");
                if (t.Begin > expected)
                    throw Bad(path, $"tensor '{t.Name}' starts at byte {t.Begin}, leaving a gap after byte {expected}; the header lies about offsets");
                expected = t.End;
            }
            if (expected > dataLength)
                throw Bad(path, $"tensors need {expected} data bytes but the file holds {dataLength}; the file is truncated, download it again");
            if (expected < dataLength)
                throw Bad(path, $"the file holds {dataLength} data bytes but its tensors use only {expected}; the header lies about offsets");

            return new SafetensorsHeader { Tensors = tensors, Metadata = metadata, DataStart = 8 + (long)n };
        }
    }

    private static TensorInfo ParseTensor(string path, JsonProperty prop)
    {
        string name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"entry for tensor '{name}' is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad(path, $"tensor '{name}' has no dtype");
        if (!SafetensorsDTypes.TryParse(dt.GetString()!, out var dtype))
            throw Bad(path, $"tensor '{name}' has unknown dtype '{dt.GetString()}'");
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"tensor '{name}' has no shape");
        var shape = new long[sh.GetArrayLength()];
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long x) || x < 0)
                throw Bad(path, $"tensor '{name}' has an invalid dimension in its shape");
            shape[i++] = x;
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad(path, $"tensor '{name}' has no data_offsets pair");
        long begin = off[0].TryGetInt64(out long b) ? b : -1;
        long end = off[1].TryGetInt64(out long e) ? e : -1;
        if (begin < 0 || end < begin)
            throw Bad(path, $"tensor '{name}' has invalid data_offsets [{off[0]}, {off[1]}]");
        long count;
        try { count = checked(shape.Aggregate(1L, (a, c) => checked(a * c)) * dtype.SizeOf()); }
        catch (OverflowException) { throw Bad(path, $"tensor '{name}' has a shape too large to address"); }
        if (count != end - begin)
            throw Bad(path, $"tensor '{name}' of dtype {dtype} and shape [{string.Join(", ", shape)}] needs {count} bytes but its offsets span {end - begin}");
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static LlmMergeException Bad(string path, string what) => new($"{path}: invalid safetensors file: {what}");
}
