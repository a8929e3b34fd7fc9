using System.Text.Json;

namespace LlmMerge.Core.SafeTensors;

/// <summary>
/// Writes one safetensors file whose tensors are known in advance (name, dtype, shape). The header is written
/// first, so tensor data can then be streamed in, each at its planned offset, in any order and from any thread.
/// </summary>
public sealed class SafetensorsWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly Dictionary<string, TensorInfo> _planned;
    private readonly HashSet<string> _written = new();
    private readonly long _dataStart;
    private readonly object _gate = new();

    public string Path { get; }

    public IReadOnlyList<TensorInfo> Tensors { get; }

    public SafetensorsWriter(string path, IEnumerable<(string Name, SafetensorsDType DType, long[] Shape)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        Path = path;
        var infos = new List<TensorInfo>();
        long offset = 0;
        foreach (var (name, dtype, shape) in tensors)
        {
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * dtype.SizeOf();
            infos.Add(new TensorInfo(name, dtype, shape, offset, offset + bytes));
            offset += bytes;
        }
        Tensors = infos;
        _planned = infos.ToDictionary(t => t.Name);
        byte[] header = BuildHeader(infos, metadata ?? new Dictionary<string, string> { ["format"] = "pt" });
        _dataStart = 8 + header.Length;
        _stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.None);
        _stream.SetLength(_dataStart + offset);
        Span<byte> len = stackalloc byte[8];
        BitConverter.TryWriteBytes(len, (ulong)header.Length);
        RandomAccess.Write(_stream.SafeFileHandle, len, 0);
        RandomAccess.Write(_stream.SafeFileHandle, header, 8);
    }

    /// <summary>The header JSON, padded with spaces to a multiple of 8 bytes as the reference writer does.</summary>
    internal static byte[] BuildHeader(IReadOnlyList<TensorInfo> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata)
                    w.WriteString(k, v);
                w.WriteEndObject();
            }
            foreach (var t in tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.ToString());
                w.WriteStartArray("shape");
                foreach (var d in t.Shape)
                    w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(t.Begin);
                w.WriteNumberValue(t.End);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++)
            ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    public bool Contains(string name) => _planned.ContainsKey(name);

    /// <summary>Writes part of a tensor's bytes at <paramref name="offsetInTensor"/>; thread-safe for distinct tensors.</summary>
    public void Write(string name, ReadOnlySpan<byte> data, long offsetInTensor = 0)
    {
        var info = _planned[name];
        if (offsetInTensor + data.Length > info.ByteLength)
            throw new InvalidOperationException($"{Path}: writing {data.Length} bytes at {offsetInTensor} overruns tensor '{name}' of {info.ByteLength} bytes");
        long at = _dataStart + info.Begin + offsetInTensor;
        RandomAccess.Write(_stream.SafeFileHandle, data, at);
        StartWriteback(at, data.Length);
        if (offsetInTensor + data.Length == info.ByteLength)
        {
            lock (_gate)
                _written.Add(name);
        }
    }

    /// <summary>
    /// Starts writing a large piece to disk now (Linux sync_file_range, without waiting), so a big model's output
    /// reaches the disk while the merge goes on: the flush at the end then has little left to do, and dirty pages
    /// never pile up to the point where the kernel throttles the writer.
    /// </summary>
    private void StartWriteback(long offset, long length)
    {
        if (length < 1 << 20 || !OperatingSystem.IsLinux() || _writebackUnsupported)
            return;
        try
        {
            if (sync_file_range((int)_stream.SafeFileHandle.DangerousGetHandle(), offset, length, SyncFileRangeWrite) != 0)
                _writebackUnsupported = true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _writebackUnsupported = true;
        }
    }

    private bool _writebackUnsupported;

    private const uint SyncFileRangeWrite = 2;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int sync_file_range(int fd, long offset, long nbytes, uint flags);

    /// <summary>Checks every planned tensor was written and flushes the file to disk.</summary>
    public void Complete()
    {
        var missing = _planned.Keys.Where(k => !_written.Contains(k) && _planned[k].ByteLength > 0).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"{Path}: tensors never written: {string.Join(", ", missing.Take(5))}");
        _stream.Flush(flushToDisk: true);
    }

    public void Dispose() => _stream.Dispose();
}
