using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using LlmMerge.Core.Models;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Core.PyTorch;

/// <summary>
/// A PyTorch checkpoint (<c>pytorch_model.bin</c>, <c>adapter_model.bin</c>) in the zip format torch.save has
/// written since torch 1.6: <c>PREFIX/data.pkl</c> (the state dict's pickle), one stored entry
/// <c>PREFIX/data/KEY</c> per storage, <c>PREFIX/byteorder</c> and <c>PREFIX/version</c>. The pickle is read by
/// <see cref="RestrictedUnpickler"/>; tensors are views into the memory-mapped archive, read lazily as mergekit's
/// lazy_unpickle reads them (a6e40288). A tensor whose strides are not row-major is gathered into memory of its
/// own when first read and freed when evicted. The legacy format before torch 1.6 is refused.
/// </summary>
public sealed unsafe class PyTorchCheckpoint : ITensorFile
{
    /// <summary>Where a tensor's elements are: contiguous views point straight into the map.</summary>
    private sealed record Layout(long StorageStart, long Offset, long[] Stride, int ElementSize, bool Contiguous);

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly List<TensorInfo> _tensors = [];
    private readonly Dictionary<string, TensorInfo> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Layout> _layouts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, nint> _gathered = new(StringComparer.Ordinal);

    public string Path { get; }

    public IReadOnlyList<TensorInfo> Tensors => _tensors;

    private PyTorchCheckpoint(string path)
    {
        Path = path;
        if (!File.Exists(path))
            throw new LlmMergeException($"{path}: file not found");
        long length = new FileInfo(path).Length;
        if (length < 22)
            throw Bad($"the file is {length} bytes, too short for a zip archive; it is truncated or not a checkpoint");
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
        try
        {
            Read(length);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Opens and validates a checkpoint; every failure is an <see cref="LlmMergeException"/> naming the file.</summary>
    public static PyTorchCheckpoint Open(string path) => new(path);

    private void Read(long length)
    {
        var head = new ReadOnlySpan<byte>(_base, (int)Math.Min(length, 512));
        if (!head.StartsWith("PK"u8))
        {
            // torch.save before 1.6 wrote pickles back to back (a magic number first) or, earlier still, a tar file.
            bool legacy = head.StartsWith(new byte[] { 0x80, 0x02, 0x8a, 0x0a }) || (head.Length >= 262 && head[257..262].SequenceEqual("ustar"u8));
            throw Bad(legacy
                ? "it is in PyTorch's legacy format (torch.save before 1.6, not a zip archive), which is not read here: convert it, e.g. "
                  + "python -c \"import torch; from safetensors.torch import save_file; save_file(torch.load('FILE', weights_only=True), 'model.safetensors')\", "
                  + "or load and torch.save it again with a current torch"
                : "it is neither a zip archive (torch.save) nor a legacy torch checkpoint");
        }

        var zip = new StoredZipArchive(_base, length, Path);
        var pickles = zip.Entries.Where(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal) && e.Name.Count(c => c == '/') == 1).ToList();
        if (pickles.Count != 1)
            throw Bad(pickles.Count == 0
                ? "the archive has no PREFIX/data.pkl entry, so it is not a torch.save checkpoint (a TorchScript or other zip?)"
                : $"the archive has {pickles.Count} data.pkl entries ({string.Join(", ", pickles.Select(e => e.Name))})");
        string prefix = pickles[0].Name[..^"data.pkl".Length];

        if (zip.Find(prefix + "byteorder") is { } order)
        {
            string text = Encoding.ASCII.GetString(zip.Bytes(zip.Stored(order.Name))).Trim();
            if (text != "little")
                throw Bad($"its storages are {text}-endian (written on such a machine); load and save it again on a little-endian one");
        }

        byte[] pickle = zip.Bytes(zip.Stored(pickles[0].Name)).ToArray();
        object? root = RestrictedUnpickler.Load(pickle, $"{Path}: {pickles[0].Name}");
        if (root is PickledDict wrapper && wrapper.Get("state_dict") is PickledDict inner)
            root = inner; // as mergekit's from_file: a checkpoint that holds {"state_dict": ...}
        if (root is not PickledDict stateDict)
            throw Bad("its pickle holds no dict of tensors (a whole pickled model rather than a state dict?)");

        foreach (var (key, value) in stateDict.Items)
        {
            if (key is not string name)
                throw Bad($"state dict key {key} is not a string");
            if (value is not TensorReference tensor)
                throw Bad($"entry '{name}' of the state dict is not a tensor; only state dicts of tensors are read");
            Add(zip, prefix, name, tensor);
        }
    }

    private void Add(StoredZipArchive zip, string prefix, string name, TensorReference t)
    {
        var storage = t.Storage;
        string entryName = prefix + "data/" + storage.Key;
        var entry = zip.Find(entryName) ?? throw Bad($"tensor '{name}' uses storage '{storage.Key}', but the archive has no entry {entryName}; it is truncated or corrupt");
        zip.Stored(entryName);
        int size = storage.DType.SizeOf();
        long storageBytes;
        try { storageBytes = checked(storage.Numel * size); }
        catch (OverflowException) { throw Bad($"storage '{storage.Key}' declares {storage.Numel} elements, too many to address"); }
        if (entry.Size != storageBytes)
            throw Bad($"storage '{storage.Key}' ({entryName}) holds {entry.Size} bytes, but the pickle declares {storage.Numel} elements of {storage.StorageType} ({storageBytes} bytes); the file is corrupt");
        if (t.Shape.Length != t.Stride.Length || t.Shape.Any(d => d < 0) || t.Stride.Any(s => s < 0) || t.Offset < 0)
            throw Bad($"tensor '{name}' has shape [{string.Join(", ", t.Shape)}], stride ({string.Join(", ", t.Stride)}) and offset {t.Offset}, which do not describe a view");

        long numel, last;
        try
        {
            numel = t.Shape.Aggregate(1L, (a, d) => checked(a * d));
            last = t.Offset;
            for (int d = 0; d < t.Shape.Length; d++)
                last = checked(last + (t.Shape[d] - 1) * t.Stride[d]);
        }
        catch (OverflowException) { throw Bad($"tensor '{name}' has a shape too large to address"); }
        if (numel > 0 && last >= storage.Numel)
            throw Bad($"tensor '{name}' (offset {t.Offset}, shape [{string.Join(", ", t.Shape)}], stride ({string.Join(", ", t.Stride)})) reaches element {last}, past the {storage.Numel} elements of storage '{storage.Key}'; the file is corrupt");

        bool contiguous = true;
        long expected = 1;
        for (int d = t.Shape.Length - 1; d >= 0; d--)
        {
            if (t.Shape[d] != 1 && t.Stride[d] != expected)
                contiguous = false;
            expected *= t.Shape[d];
        }
        long begin = entry.DataOffset + t.Offset * size;
        var info = new TensorInfo(name, storage.DType, t.Shape, begin, begin + numel * size);
        if (!_byName.TryAdd(name, info))
            throw Bad($"tensor '{name}' appears twice");
        _tensors.Add(info);
        _layouts[name] = new Layout(entry.DataOffset, t.Offset, t.Stride, size, contiguous);
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public TensorInfo GetInfo(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw new LlmMergeException($"{Path}: no tensor named '{name}'");

    public byte* GetPointer(TensorInfo info)
    {
        var layout = _layouts[info.Name];
        if (layout.Contiguous)
            return _base + info.Begin;
        lock (_gathered)
        {
            if (!_gathered.TryGetValue(info.Name, out nint buffer))
            {
                buffer = (nint)NativeMemory.Alloc((nuint)Math.Max(1, info.ByteLength));
                Gather(info, layout, (byte*)buffer);
                _gathered[info.Name] = buffer;
            }
            return (byte*)buffer;
        }
    }

    public ReadOnlySpan<byte> GetBytes(TensorInfo info)
    {
        if (info.ByteLength > int.MaxValue)
            throw new InvalidOperationException($"tensor '{info.Name}' is {info.ByteLength} bytes; read it through GetPointer");
        return info.ByteLength == 0 ? ReadOnlySpan<byte>.Empty : new ReadOnlySpan<byte>(GetPointer(info), (int)info.ByteLength);
    }

    /// <summary>As <see cref="SafetensorsFile.Evict"/>: the pages leave this process's resident set; a gathered copy is freed.</summary>
    public void Evict(TensorInfo info)
    {
        lock (_gathered)
        {
            if (_gathered.Remove(info.Name, out nint buffer))
            {
                NativeMemory.Free((void*)buffer);
                return;
            }
        }
        if (info.ByteLength == 0 || !OperatingSystem.IsLinux())
            return;
        const long page = 4096;
        long start = (long)(_base + info.Begin) & ~(page - 1);
        long end = (long)(_base + info.End);
        _ = madvise((nint)start, (nuint)(end - start), MadvDontNeed);
    }

    // Row-major copy of a strided view, element by element along the last dimension.
    private void Gather(TensorInfo info, Layout layout, byte* dst)
    {
        var shape = info.Shape;
        int rank = shape.Length;
        long numel = info.ElementCount;
        if (numel == 0)
            return;
        int size = layout.ElementSize;
        byte* storage = _base + layout.StorageStart;
        var index = new long[rank];
        long inner = rank == 0 ? 1 : shape[^1];
        long innerStride = rank == 0 ? 0 : layout.Stride[^1];
        for (long done = 0; done < numel; done += inner)
        {
            long element = layout.Offset;
            for (int d = 0; d < rank - 1; d++)
                element += index[d] * layout.Stride[d];
            for (long i = 0; i < inner; i++)
                Buffer.MemoryCopy(storage + (element + i * innerStride) * size, dst + (done + i) * size, size, size);
            for (int d = rank - 2; d >= 0; d--)
            {
                if (++index[d] < shape[d])
                    break;
                index[d] = 0;
            }
        }
    }

    private const int MadvDontNeed = 4;

    [DllImport("libc", SetLastError = true)]
    private static extern int madvise(nint addr, nuint length, int advice);

    private LlmMergeException Bad(string what) => new($"{Path}: invalid PyTorch checkpoint: {what}");

    public void Dispose()
    {
        lock (_gathered)
        {
            foreach (nint buffer in _gathered.Values)
                NativeMemory.Free((void*)buffer);
            _gathered.Clear();
        }
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}
