using System.Runtime.InteropServices;

namespace LlmMerge.Engine.Execution;

/// <summary>
/// A tensor's output in its stored form (the output dtype's bytes), in native memory. Buffers are kept for the
/// next tensors (one is computed while the one before is written): a fresh allocation of a large tensor would be
/// faulted in and zeroed by the kernel page by page, which costs as much as a pass over it.
/// </summary>
internal sealed unsafe class StoredBytes : IDisposable
{
    private const int Kept = 3;
    private static readonly Stack<(nint Memory, long Capacity)> Free = new();

    private readonly long _capacity;

    private StoredBytes(byte* pointer, long capacity, long length)
    {
        Pointer = pointer;
        _capacity = capacity;
        Length = length;
    }

    /// <summary>A buffer of at least <paramref name="length"/> bytes, reused where one is free.</summary>
    public static StoredBytes Rent(long length)
    {
        lock (Free)
        {
            var tried = new List<(nint, long)>();
            while (Free.Count > 0)
            {
                var (memory, capacity) = Free.Pop();
                if (capacity >= length)
                {
                    foreach (var t in tried)
                        Free.Push(t);
                    return new StoredBytes((byte*)memory, capacity, length);
                }
                tried.Add((memory, capacity));
            }
            // None is large enough: free the smaller ones, so memory stays a few of the largest tensor.
            foreach (var (memory, _) in tried)
                NativeMemory.AlignedFree((void*)memory);
        }
        long size = Math.Max(length, 64);
        return new StoredBytes((byte*)NativeMemory.AlignedAlloc((nuint)size, 64), size, length);
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

    /// <summary>Returns the buffer for the next tensor (or frees it beyond a few).</summary>
    public void Dispose()
    {
        if (Pointer == null)
            return;
        lock (Free)
        {
            if (Free.Count < Kept)
                Free.Push(((nint)Pointer, _capacity));
            else
                NativeMemory.AlignedFree(Pointer);
        }
        Pointer = null;
    }

    /// <summary>Frees the kept buffers (after a merge).</summary>
    public static void Trim()
    {
        lock (Free)
        {
            while (Free.Count > 0)
                NativeMemory.AlignedFree((void*)Free.Pop().Memory);
        }
    }
}
