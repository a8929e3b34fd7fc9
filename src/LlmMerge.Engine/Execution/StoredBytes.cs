using System.Runtime.InteropServices;

namespace LlmMerge.Engine.Execution;

/// <summary>A tensor's output in its stored form (the output dtype's bytes), in native memory the write frees.</summary>
internal sealed unsafe class StoredBytes : IDisposable
{
    public StoredBytes(long length)
    {
        Length = length;
        Pointer = length == 0 ? null : (byte*)NativeMemory.AlignedAlloc((nuint)length, 64);
    }

    public byte* Pointer { get; private set; }

    public long Length { get; }

    /// <summary>Passes the bytes to <paramref name="write"/> (offset, piece) in pieces of at most 1 GB.</summary>
    public void WriteTo(Action<long, ReadOnlySpan<byte>> write)
    {
        for (long off = 0; off < Length; off += 1 << 30)
        {
            int len = (int)Math.Min(1 << 30, Length - off);
            write(off, new ReadOnlySpan<byte>(Pointer + off, len));
        }
    }

    public void Dispose()
    {
        if (Pointer != null)
            NativeMemory.AlignedFree(Pointer);
        Pointer = null;
    }
}
