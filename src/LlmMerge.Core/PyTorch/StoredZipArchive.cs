using System.Buffers.Binary;
using System.Text;

namespace LlmMerge.Core.PyTorch;

/// <summary>
/// The central directory of a zip archive read from a memory map, zip64 included, as torch.save writes one
/// (PyTorchStreamWriter: every entry stored, each record's data aligned to 64 bytes by padding its local extra
/// field). Entries are located, never inflated: a reader points into the map. CRC-32s are not checked, since that
/// would read every byte when the archive is opened; the storages' sizes are checked against the pickle instead.
/// </summary>
internal sealed unsafe class StoredZipArchive
{
    private const uint EndOfCentralDirectory = 0x06054b50;
    private const uint Zip64EndLocator = 0x07064b50;
    private const uint Zip64End = 0x06064b50;
    private const uint CentralHeader = 0x02014b50;
    private const uint LocalHeader = 0x04034b50;

    private readonly byte* _base;
    private readonly long _length;
    private readonly string _path;
    private readonly Dictionary<string, ZipEntry> _entries = new(StringComparer.Ordinal);

    public StoredZipArchive(byte* mapped, long length, string path)
    {
        _base = mapped;
        _length = length;
        _path = path;
        long eocd = FindEndOfCentralDirectory();
        long count = U16(eocd + 10);
        long directorySize = U32(eocd + 12);
        long directoryOffset = U32(eocd + 16);
        if (count == 0xFFFF || directorySize == 0xFFFFFFFF || directoryOffset == 0xFFFFFFFF)
        {
            // zip64: the locator sits just before the classic record and points to the 64-bit one.
            if (eocd < 20 || U32(eocd - 20) != Zip64EndLocator)
                throw Bad("its end record asks for zip64 but no zip64 locator precedes it; the archive is truncated or corrupt");
            long record = I64(eocd - 20 + 8);
            Need(record, 56, "the zip64 end record");
            if (U32(record) != Zip64End)
                throw Bad($"no zip64 end record at byte {record}; the archive is corrupt");
            count = I64(record + 32);
            directorySize = I64(record + 40);
            directoryOffset = I64(record + 48);
        }
        Need(directoryOffset, directorySize, "the central directory");

        long at = directoryOffset;
        for (long i = 0; i < count; i++)
        {
            Need(at, 46, "a central directory entry");
            if (U32(at) != CentralHeader)
                throw Bad($"central directory entry {i} at byte {at} has no signature; the archive is corrupt");
            int flags = U16(at + 8);
            int method = U16(at + 10);
            long compressed = U32(at + 20);
            long uncompressed = U32(at + 24);
            int nameLength = U16(at + 28);
            int extraLength = U16(at + 30);
            int commentLength = U16(at + 32);
            long local = U32(at + 42);
            Need(at + 46, nameLength + extraLength + commentLength, "a central directory entry");
            string name = Encoding.UTF8.GetString(new ReadOnlySpan<byte>(_base + at + 46, nameLength));
            ReadZip64Extra(at + 46 + nameLength, extraLength, ref uncompressed, ref compressed, ref local);
            if ((flags & 1) != 0)
                throw Bad($"entry '{name}' is encrypted");

            Need(local, 30, $"the local header of '{name}'");
            if (U32(local) != LocalHeader)
                throw Bad($"entry '{name}' has no local header at byte {local}; the archive is corrupt");
            long data = local + 30 + U16(local + 26) + U16(local + 28);
            if (method == 0 && compressed != uncompressed)
                throw Bad($"stored entry '{name}' gives two sizes ({compressed} and {uncompressed}); the archive is corrupt");
            if (data + compressed > _length)
                throw Bad($"entry '{name}' needs bytes up to {data + compressed} but the file has {_length}; the archive is truncated, download it again");
            _entries[name] = new ZipEntry(name, method, compressed, data);
            at += 46 + nameLength + extraLength + commentLength;
        }
    }

    public IEnumerable<ZipEntry> Entries => _entries.Values;

    public ZipEntry? Find(string name) => _entries.GetValueOrDefault(name);

    /// <summary>An entry whose bytes are read in place; a compressed one is refused, since it cannot be mapped.</summary>
    public ZipEntry Stored(string name)
    {
        var entry = Find(name) ?? throw Bad($"it has no entry '{name}'");
        if (!entry.IsStored)
            throw Bad($"entry '{name}' is compressed (zip method {entry.Method}{(entry.Method == 8 ? ", deflate" : "")}); torch.save stores entries uncompressed, which is what is read here in place: save the checkpoint again with torch.save, or convert it to safetensors");
        return entry;
    }

    public ReadOnlySpan<byte> Bytes(ZipEntry entry) =>
        entry.Size > int.MaxValue ? throw Bad($"entry '{entry.Name}' is {entry.Size} bytes, too large to read whole")
            : new ReadOnlySpan<byte>(_base + entry.DataOffset, (int)entry.Size);

    private void ReadZip64Extra(long at, int length, ref long uncompressed, ref long compressed, ref long local)
    {
        long end = at + length;
        while (at + 4 <= end)
        {
            int id = U16(at);
            int size = U16(at + 2);
            long field = at + 4;
            if (id == 1)
            {
                // Only the fields whose 32-bit value is all ones are present, in this order.
                if (uncompressed == 0xFFFFFFFF && field + 8 <= end) { uncompressed = I64(field); field += 8; }
                if (compressed == 0xFFFFFFFF && field + 8 <= end) { compressed = I64(field); field += 8; }
                if (local == 0xFFFFFFFF && field + 8 <= end) { local = I64(field); }
            }
            at += 4 + size;
        }
    }

    private long FindEndOfCentralDirectory()
    {
        // The record is 22 bytes plus a comment of up to 65535.
        long lowest = Math.Max(0, _length - 22 - 0xFFFF);
        for (long at = _length - 22; at >= lowest; at--)
        {
            if (U32(at) == EndOfCentralDirectory)
                return at;
        }
        throw Bad("no zip end record; the archive is truncated (an interrupted download or copy): download it again");
    }

    private void Need(long offset, long count, string what)
    {
        if (offset < 0 || count < 0 || offset + count > _length)
            throw Bad($"{what} lies at bytes [{offset}, {offset + count}) but the file has {_length}; the archive is truncated or corrupt");
    }

    private int U16(long at) => BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(_base + at, 2));

    private long U32(long at) => BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(_base + at, 4));

    private long I64(long at)
    {
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_base + at, 8));
        return v > long.MaxValue ? throw Bad($"a zip64 field at byte {at} is out of range") : (long)v;
    }

    private LlmMergeException Bad(string what) => new($"{_path}: invalid PyTorch checkpoint: {what}");
}
