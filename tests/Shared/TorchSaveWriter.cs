using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmMerge.TestFixtures;

/// <summary>
/// Writes PyTorch checkpoints byte for byte as torch.save (torch 2.x, default pickle_protocol=2) lays them out,
/// without Python: a zip of stored entries <c>archive/data.pkl</c>, <c>archive/.format_version</c>,
/// <c>archive/.storage_alignment</c>, <c>archive/byteorder</c>, <c>archive/data/0</c>..., <c>archive/version</c> and
/// <c>archive/.data/serialization_id</c>, each record's data aligned to 64 bytes by an "FB" extra field; the pickle is
/// what Python's pickler writes for an OrderedDict of tensors (memoised strings and globals, BINPUT/BINGET,
/// _rebuild_tensor_v2 over persistent storage ids, the state dict's _metadata set by BUILD).
/// </summary>
/// <remarks>Shared by LlmMerge.Tests and LlmMerge.Build.Tests (linked), so it depends on nothing of the engine.</remarks>
public sealed class TorchSaveWriter
{
    /// <summary>One storage: the bytes of <c>archive/data/KEY</c> and the element type the pickle names.</summary>
    public sealed class Storage(string key, string type, int elementSize, byte[] data)
    {
        public string Key { get; } = key;
        public string Type { get; } = type;
        public int ElementSize { get; } = elementSize;
        public byte[] Data { get; set; } = data;
        /// <summary>The element count the pickle declares (the data's, unless a test lies).</summary>
        public long Numel { get; set; } = data.Length / elementSize;
    }

    /// <summary>A tensor: a view (offset, shape and stride in elements) of a storage.</summary>
    public sealed record Tensor(string Name, Storage Storage, long Offset, long[] Shape, long[] Stride);

    private readonly List<Storage> _storages = [];

    public List<Tensor> Tensors { get; } = [];

    /// <summary>The archive's top folder; torch writes "archive" (older versions the file's stem).</summary>
    public string Prefix { get; set; } = "archive";

    /// <summary>False: a plain dict, as transformers' shards are saved; true: a module's state_dict() with _metadata.</summary>
    public bool OrderedDict { get; set; } = true;

    /// <summary>Tensors as nn.Parameter (state_dict(keep_vars=True)): wrapped in _rebuild_parameter.</summary>
    public bool AsParameters { get; set; }

    /// <summary>Writes zip64 records and extra fields, as torch does for archives past 4 GB.</summary>
    public bool Zip64 { get; set; }

    /// <summary>Entry names (without the prefix) written deflated instead of stored.</summary>
    public HashSet<string> Deflated { get; } = [];

    /// <summary>The content of archive/byteorder; null leaves the entry out, as torch before 2.1 did.</summary>
    public string? ByteOrder { get; set; } = "little";

    /// <summary>Rewrites the pickle before it is stored (to plant a forbidden global, say).</summary>
    public Func<byte[], byte[]>? EditPickle { get; set; }

    /// <summary>A new storage of <paramref name="data"/> in the element type of a safetensors dtype name (F32, BF16, ...).</summary>
    public Storage AddStorage(string dtype, byte[] data)
    {
        var (type, size) = StorageType(dtype);
        var s = new Storage(_storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), type, size, data);
        _storages.Add(s);
        return s;
    }

    /// <summary>A contiguous tensor with a storage of its own.</summary>
    public TorchSaveWriter Add(string name, string dtype, long[] shape, byte[] data)
    {
        Tensors.Add(new Tensor(name, AddStorage(dtype, data), 0, shape, RowMajor(shape)));
        return this;
    }

    public TorchSaveWriter AddView(string name, Storage storage, long offset, long[] shape, long[] stride)
    {
        Tensors.Add(new Tensor(name, storage, offset, shape, stride));
        return this;
    }

    public static long[] RowMajor(long[] shape)
    {
        var stride = new long[shape.Length];
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            stride[d] = s;
            s *= shape[d];
        }
        return stride;
    }

    public void Save(string path) => File.WriteAllBytes(path, ToBytes());

    public byte[] ToBytes()
    {
        byte[] pickle = Pickle();
        if (EditPickle is not null)
            pickle = EditPickle(pickle);
        var entries = new List<(string, byte[])>
        {
            ("data.pkl", pickle),
            (".format_version", "1"u8.ToArray()),
            (".storage_alignment", "64"u8.ToArray()),
        };
        if (ByteOrder is not null)
            entries.Add(("byteorder", Encoding.ASCII.GetBytes(ByteOrder)));
        entries.AddRange(_storages.Select(s => ("data/" + s.Key, s.Data)));
        entries.Add(("version", "3\n"u8.ToArray()));
        entries.Add((".data/serialization_id", "1234567890123456789012345678901234567890"u8.ToArray()));
        return Zip(entries.Select(e => (Prefix + "/" + e.Item1, e.Item2, Deflated.Contains(e.Item1))), Zip64);
    }

    /// <summary>data.pkl as Python's pickler writes torch.save's state dict.</summary>
    public byte[] Pickle()
    {
        var p = new PickleWriter();
        p.Proto();
        if (OrderedDict)
        {
            p.Global("collections", "OrderedDict");
            p.EmptyTuple();
            p.Reduce();
        }
        else
        {
            p.EmptyDict();
        }
        p.SetItems(Tensors.Select(t => (Action)(() => { p.Str(t.Name); WriteTensor(p, t); })).ToList());
        if (OrderedDict)
        {
            // module.state_dict() sets _metadata = OrderedDict({'': {'version': 1}}); pickle restores it with BUILD.
            p.EmptyDict();
            p.SetItems([() =>
            {
                p.Str("_metadata");
                p.Global("collections", "OrderedDict");
                p.EmptyTuple();
                p.Reduce();
                p.SetItems([() =>
                {
                    p.Str("");
                    p.EmptyDict();
                    p.SetItems([() => { p.Str("version"); p.Int(1); }]);
                }]);
            }]);
            p.Build();
        }
        p.Stop();
        return p.ToArray();
    }

    private void WriteTensor(PickleWriter p, Tensor t)
    {
        if (AsParameters)
            p.Global("torch._utils", "_rebuild_parameter");
        p.Global("torch._utils", "_rebuild_tensor_v2");
        p.Tuple(
            () =>
            {
                // torch's persistent_id: ('storage', torch.<Type>Storage, key, location, numel)
                p.Tuple(() => p.Str("storage"), () => p.Global("torch", t.Storage.Type), () => p.Str(t.Storage.Key), () => p.Str("cpu"), () => p.Int(t.Storage.Numel));
                p.BinPersId();
            },
            () => p.Int(t.Offset),
            () => p.Tuple([.. t.Shape.Select(d => (Action)(() => p.Int(d)))]),
            () => p.Tuple([.. t.Stride.Select(d => (Action)(() => p.Int(d)))]),
            () => p.Bool(false),
            () => { p.Global("collections", "OrderedDict"); p.EmptyTuple(); p.Reduce(); });
        p.Reduce();
        if (AsParameters)
        {
            p.Bool(true);
            p.Global("collections", "OrderedDict");
            p.EmptyTuple();
            p.Reduce();
            p.TupleOfTopThree();
            p.Reduce();
        }
    }

    public static (string Type, int Size) StorageType(string dtype) => dtype switch
    {
        "F64" => ("DoubleStorage", 8),
        "F32" => ("FloatStorage", 4),
        "F16" => ("HalfStorage", 2),
        "BF16" => ("BFloat16Storage", 2),
        "I64" => ("LongStorage", 8),
        "I32" => ("IntStorage", 4),
        "I16" => ("ShortStorage", 2),
        "I8" => ("CharStorage", 1),
        "U8" => ("ByteStorage", 1),
        "BOOL" => ("BoolStorage", 1),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "no torch storage type"),
    };

    /// <summary>How a folder's tensors are laid out in the storages of the .bin files written from it.</summary>
    public enum Layout
    {
        /// <summary>Each tensor its own storage, as a state dict of separate parameters saves.</summary>
        Separate,
        /// <summary>All tensors of one dtype in one storage, at offsets, as views of a fused buffer save.</summary>
        SharedStorage,
        /// <summary>2-D tensors stored transposed, each a non-contiguous view with stride (1, rows).</summary>
        Transposed,
    }

    /// <summary>
    /// Copies a Hugging Face folder, writing its safetensors weights as torch.save checkpoints: model.safetensors (or
    /// its shards) as pytorch_model.bin, or <paramref name="shards"/> pytorch_model-0000i-of-0000n.bin files with
    /// pytorch_model.bin.index.json; adapter_model.safetensors as adapter_model.bin. Other files are copied.
    /// </summary>
    public static void ConvertFolder(string from, string to, Layout layout = Layout.Separate, int shards = 1, Action<TorchSaveWriter>? configure = null)
    {
        Directory.CreateDirectory(to);
        var tensors = new List<(string Name, string DType, long[] Shape, byte[] Data)>();
        bool adapter = false;
        foreach (string file in Directory.GetFiles(from).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(file);
            if (name.EndsWith(".safetensors", StringComparison.Ordinal))
            {
                adapter |= name == "adapter_model.safetensors";
                tensors.AddRange(ReadSafetensors(file));
            }
            else if (name != "model.safetensors.index.json")
            {
                File.Copy(file, Path.Combine(to, name), overwrite: true);
            }
        }

        if (adapter)
        {
            Write(tensors, layout, configure).Save(Path.Combine(to, "adapter_model.bin"));
            return;
        }
        if (shards == 1)
        {
            Write(tensors, layout, configure).Save(Path.Combine(to, "pytorch_model.bin"));
            return;
        }
        var map = new JsonObject();
        int per = (tensors.Count + shards - 1) / shards;
        for (int i = 0; i < shards; i++)
        {
            string shard = $"pytorch_model-{i + 1:00000}-of-{shards:00000}.bin";
            var part = tensors.Skip(i * per).Take(per).ToList();
            Write(part, layout, configure).Save(Path.Combine(to, shard));
            foreach (var t in part)
                map[t.Name] = shard;
        }
        File.WriteAllText(Path.Combine(to, "pytorch_model.bin.index.json"), new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString());
    }

    private static TorchSaveWriter Write(List<(string Name, string DType, long[] Shape, byte[] Data)> tensors, Layout layout, Action<TorchSaveWriter>? configure)
    {
        var w = new TorchSaveWriter();
        configure?.Invoke(w);
        if (layout == Layout.SharedStorage)
        {
            foreach (var group in tensors.GroupBy(t => t.DType))
            {
                // One storage per dtype with a gap of one element between tensors, so offsets are not trivially contiguous.
                int size = StorageType(group.Key).Size;
                var bytes = new List<byte>();
                var offsets = new List<long>();
                foreach (var t in group)
                {
                    offsets.Add(bytes.Count / size);
                    bytes.AddRange(t.Data);
                    bytes.AddRange(new byte[size]);
                }
                var storage = w.AddStorage(group.Key, [.. bytes]);
                int i = 0;
                foreach (var t in group)
                    w.AddView(t.Name, storage, offsets[i++], t.Shape, RowMajor(t.Shape));
            }
            // Keep the folder's tensor order, as a state dict would list it.
            w.Tensors.Sort((a, b) => tensors.FindIndex(t => t.Name == a.Name).CompareTo(tensors.FindIndex(t => t.Name == b.Name)));
            return w;
        }
        foreach (var t in tensors)
        {
            if (layout == Layout.Transposed && t.Shape.Length == 2)
            {
                long rows = t.Shape[0], cols = t.Shape[1];
                int size = StorageType(t.DType).Size;
                var stored = new byte[t.Data.Length];
                for (long r = 0; r < rows; r++)
                    for (long c = 0; c < cols; c++)
                        Array.Copy(t.Data, (r * cols + c) * size, stored, (c * rows + r) * size, size);
                w.AddView(t.Name, w.AddStorage(t.DType, stored), 0, t.Shape, [1, rows]);
            }
            else
            {
                w.Add(t.Name, t.DType, t.Shape, t.Data);
            }
        }
        return w;
    }

    /// <summary>Every tensor of a safetensors file, read by hand from its header.</summary>
    public static List<(string Name, string DType, long[] Shape, byte[] Data)> ReadSafetensors(string path)
    {
        byte[] all = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(all);
        using var header = JsonDocument.Parse(all.AsMemory(8, (int)n));
        var result = new List<(string, string, long[], byte[], long)>();
        foreach (var p in header.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
                continue;
            long begin = p.Value.GetProperty("data_offsets")[0].GetInt64();
            long end = p.Value.GetProperty("data_offsets")[1].GetInt64();
            result.Add((p.Name, p.Value.GetProperty("dtype").GetString()!, [.. p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())],
                all[(int)(8 + n + begin)..(int)(8 + n + end)], begin));
        }
        return [.. result.OrderBy(t => t.Item5).Select(t => (t.Item1, t.Item2, t.Item3, t.Item4))];
    }

    /// <summary>A zip of the given entries, each stored (or deflated) with its data aligned to 64 bytes, as torch writes it.</summary>
    public static byte[] Zip(IEnumerable<(string Name, byte[] Data, bool Deflate)> entries, bool zip64 = false)
    {
        var o = new MemoryStream();
        var central = new MemoryStream();
        int count = 0;
        foreach (var (name, content, deflate) in entries)
        {
            byte[] data = content;
            if (deflate)
            {
                var d = new MemoryStream();
                using (var z = new DeflateStream(d, CompressionLevel.Optimal, leaveOpen: true))
                    z.Write(content);
                data = d.ToArray();
            }
            uint crc = Crc32(content);
            byte[] nameBytes = Encoding.UTF8.GetBytes(name);
            long offset = o.Position;
            var extra = new MemoryStream();
            if (zip64)
            {
                W16(extra, 1);
                W16(extra, 16);
                W64(extra, content.Length);
                W64(extra, data.Length);
            }
            // torch pads the local extra field ("FB") so that the record's data starts on a 64-byte boundary.
            long dataAt = offset + 30 + nameBytes.Length + extra.Length + 4;
            int pad = (int)((64 - dataAt % 64) % 64);
            W16(extra, 0x4246);
            W16(extra, pad);
            extra.Write(new byte[pad]);

            W32(o, 0x04034b50);
            W16(o, zip64 ? 45 : 20);
            W16(o, 0);
            W16(o, deflate ? 8 : 0);
            W16(o, 0);
            W16(o, 33);
            W32(o, crc);
            W32(o, zip64 ? 0xFFFFFFFF : (uint)data.Length);
            W32(o, zip64 ? 0xFFFFFFFF : (uint)content.Length);
            W16(o, nameBytes.Length);
            W16(o, (int)extra.Length);
            o.Write(nameBytes);
            o.Write(extra.ToArray());
            o.Write(data);

            var centralExtra = new MemoryStream();
            if (zip64)
            {
                W16(centralExtra, 1);
                W16(centralExtra, 24);
                W64(centralExtra, content.Length);
                W64(centralExtra, data.Length);
                W64(centralExtra, offset);
            }
            W32(central, 0x02014b50);
            W16(central, zip64 ? 45 : 20);
            W16(central, zip64 ? 45 : 20);
            W16(central, 0);
            W16(central, deflate ? 8 : 0);
            W16(central, 0);
            W16(central, 33);
            W32(central, crc);
            W32(central, zip64 ? 0xFFFFFFFF : (uint)data.Length);
            W32(central, zip64 ? 0xFFFFFFFF : (uint)content.Length);
            W16(central, nameBytes.Length);
            W16(central, (int)centralExtra.Length);
            W16(central, 0);
            W16(central, 0);
            W16(central, 0);
            W32(central, 0);
            W32(central, zip64 ? 0xFFFFFFFF : (uint)offset);
            central.Write(nameBytes);
            central.Write(centralExtra.ToArray());
            count++;
        }
        long directoryAt = o.Position;
        o.Write(central.ToArray());
        long directoryEnd = o.Position;
        if (zip64)
        {
            W32(o, 0x06064b50);
            W64(o, 44);
            W16(o, 45);
            W16(o, 45);
            W32(o, 0);
            W32(o, 0);
            W64(o, count);
            W64(o, count);
            W64(o, central.Length);
            W64(o, directoryAt);
            W32(o, 0x07064b50);
            W32(o, 0);
            W64(o, directoryEnd);
            W32(o, 1);
        }
        W32(o, 0x06054b50);
        W16(o, 0);
        W16(o, 0);
        W16(o, zip64 ? 0xFFFF : count);
        W16(o, zip64 ? 0xFFFF : count);
        W32(o, zip64 ? 0xFFFFFFFF : (uint)central.Length);
        W32(o, zip64 ? 0xFFFFFFFF : (uint)directoryAt);
        W16(o, 0);
        return o.ToArray();
    }

    private static void W16(Stream s, int v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); s.Write(b); }

    private static void W32(Stream s, uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); s.Write(b); }

    private static void W64(Stream s, long v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); s.Write(b); }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte x in data)
        {
            crc ^= x;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}

/// <summary>The opcodes Python's pickler (protocol 2) writes, with its memo: strings and globals are stored once and fetched again.</summary>
public sealed class PickleWriter
{
    private readonly MemoryStream _o = new();
    private readonly Dictionary<string, int> _memo = new(StringComparer.Ordinal);
    private int _next;

    public byte[] ToArray() => _o.ToArray();

    public void Proto() => _o.Write([0x80, 2]);

    public void Stop() => _o.WriteByte((byte)'.');

    public void Raw(params byte[] bytes) => _o.Write(bytes);

    public void Global(string module, string name)
    {
        if (Get("g:" + module + "\n" + name))
            return;
        _o.WriteByte((byte)'c');
        _o.Write(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));
        Put("g:" + module + "\n" + name);
    }

    public void Str(string s)
    {
        if (Get("s:" + s))
            return;
        byte[] b = Encoding.UTF8.GetBytes(s);
        _o.WriteByte((byte)'X');
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, b.Length);
        _o.Write(n);
        _o.Write(b);
        Put("s:" + s);
    }

    public void Int(long v)
    {
        if (v is >= 0 and < 256)
        {
            _o.Write([(byte)'K', (byte)v]);
        }
        else if (v is >= 0 and < 65536)
        {
            _o.WriteByte((byte)'M');
            _o.Write([(byte)v, (byte)(v >> 8)]);
        }
        else if (v is >= int.MinValue and <= int.MaxValue)
        {
            _o.WriteByte((byte)'J');
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            _o.Write(b);
        }
        else
        {
            byte[] b = new System.Numerics.BigInteger(v).ToByteArray();
            _o.Write([0x8a, (byte)b.Length]);
            _o.Write(b);
        }
    }

    public void Bool(bool b) => _o.WriteByte(b ? (byte)0x88 : (byte)0x89);

    public void EmptyTuple() => _o.WriteByte((byte)')');

    public void EmptyDict()
    {
        _o.WriteByte((byte)'}');
        PutAnonymous();
    }

    public void Tuple(params Action[] items)
    {
        if (items.Length == 0)
        {
            EmptyTuple();
            return;
        }
        if (items.Length > 3)
            _o.WriteByte((byte)'(');
        foreach (var item in items)
            item();
        _o.WriteByte(items.Length switch { 1 => 0x85, 2 => 0x86, 3 => 0x87, _ => (byte)'t' });
        PutAnonymous();
    }

    /// <summary>TUPLE3 over the three values already on the stack.</summary>
    public void TupleOfTopThree()
    {
        _o.WriteByte(0x87);
        PutAnonymous();
    }

    public void Reduce()
    {
        _o.WriteByte((byte)'R');
        PutAnonymous();
    }

    public void Build() => _o.WriteByte((byte)'b');

    public void BinPersId() => _o.WriteByte((byte)'Q');

    /// <summary>Python's _batch_setitems: SETITEM for one pair, MARK ... SETITEMS for more (batches of 1000).</summary>
    public void SetItems(IReadOnlyList<Action> pairs)
    {
        for (int start = 0; start < pairs.Count; start += 1000)
        {
            var batch = pairs.Skip(start).Take(1000).ToList();
            if (batch.Count == 1)
            {
                batch[0]();
                _o.WriteByte((byte)'s');
                continue;
            }
            _o.WriteByte((byte)'(');
            foreach (var pair in batch)
                pair();
            _o.WriteByte((byte)'u');
        }
    }

    private bool Get(string key)
    {
        if (!_memo.TryGetValue(key, out int i))
            return false;
        if (i < 256)
        {
            _o.Write([(byte)'h', (byte)i]);
        }
        else
        {
            _o.WriteByte((byte)'j');
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, i);
            _o.Write(b);
        }
        return true;
    }

    private void Put(string key)
    {
        _memo[key] = _next;
        PutAnonymous();
    }

    private void PutAnonymous()
    {
        if (_next < 256)
        {
            _o.Write([(byte)'q', (byte)_next]);
        }
        else
        {
            _o.WriteByte((byte)'r');
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, _next);
            _o.Write(b);
        }
        _next++;
    }
}
