using System.IO.MemoryMappedFiles;
using LlmMerge.Core.Models;

namespace LlmMerge.Core.SafeTensors;

/// <summary>
/// A safetensors file opened through a read-only memory map. Tensors are views into the map, so reading a tensor
/// touches only its own pages, and tensors over 2 GB are addressed with 64-bit lengths.
/// </summary>
public sealed unsafe class SafetensorsFile : ITensorFile
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly Dictionary<string, TensorInfo> _byName;

    public string Path { get; }

    public SafetensorsHeader Header { get; }

    private SafetensorsFile(string path)
    {
        Path = path;
        if (!File.Exists(path))
            throw new LlmMergeException($"{path}: file not found");
        long length = new FileInfo(path).Length;

        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            Span<byte> prefix = stackalloc byte[8];
            if (length >= 8)
                fs.ReadExactly(prefix);
            Header = SafetensorsHeader.Parse(path, prefix, length, n =>
            {
                var buf = new byte[n];
                fs.ReadExactly(buf);
                return buf;
            });
        }
        _byName = new Dictionary<string, TensorInfo>(Header.Tensors.Count);
        foreach (var t in Header.Tensors)
        {
            if (!_byName.TryAdd(t.Name, t))
                throw new LlmMergeException($"{path}: invalid safetensors file: tensor '{t.Name}' appears twice");
        }

        // An empty data section cannot be mapped; such a file has only empty tensors.
        if (length > Header.DataStart)
        {
            _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            _view = _map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _base = p + _view.PointerOffset;
        }
    }

    /// <summary>Opens and validates a file; every failure is an <see cref="LlmMergeException"/> naming it.</summary>
    public static SafetensorsFile Open(string path) => new(path);

    public IReadOnlyList<TensorInfo> Tensors => Header.Tensors;

    public bool Contains(string name) => _byName.ContainsKey(name);

    public TensorInfo GetInfo(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw new LlmMergeException($"{Path}: no tensor named '{name}'");

    /// <summary>Pointer to the first byte of a tensor's data; valid while this file is open.</summary>
    public byte* GetPointer(TensorInfo info) => _base + Header.DataStart + info.Begin;

    /// <summary>The tensor's bytes as a span; for tensors under 2 GB (use <see cref="GetPointer"/> beyond).</summary>
    public ReadOnlySpan<byte> GetBytes(TensorInfo info)
    {
        if (info.ByteLength > int.MaxValue)
            throw new InvalidOperationException($"tensor '{info.Name}' is {info.ByteLength} bytes; read it through GetPointer");
        return info.ByteLength == 0 ? ReadOnlySpan<byte>.Empty : new ReadOnlySpan<byte>(GetPointer(info), (int)info.ByteLength);
    }

    /// <summary>
    /// Tells the kernel this process is done with a tensor's pages. They stay in the page cache, but leave this
    /// process's resident set, so a streaming merge's memory does not grow with the model it reads.
    /// </summary>
    public void Evict(TensorInfo info)
    {
        if (_view is null || info.ByteLength == 0 || !OperatingSystem.IsLinux())
            return;
        const long page = 4096;
        long start = (long)(GetPointer(info)) & ~(page - 1);
        long end = (long)(GetPointer(info) + info.ByteLength);
        _ = madvise((nint)start, (nuint)(end - start), MadvDontNeed);
    }

    /// <summary>
    /// Asks the kernel to read a tensor's pages ahead (madvise WILLNEED): from disk they arrive while the tensor
    /// before is computed; pages already in the page cache are left as they are.
    /// </summary>
    public void Prefetch(TensorInfo info)
    {
        if (_view is null || info.ByteLength == 0 || !OperatingSystem.IsLinux())
            return;
        const long page = 4096;
        long start = (long)(GetPointer(info)) & ~(page - 1);
        long end = (long)(GetPointer(info) + info.ByteLength);
        _ = madvise((nint)start, (nuint)(end - start), MadvWillNeed);
    }

    private const int MadvWillNeed = 3;
    private const int MadvDontNeed = 4;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int madvise(nint addr, nuint length, int advice);

    public void Dispose()
    {
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}
