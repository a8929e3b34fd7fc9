using System.Runtime.InteropServices;

namespace LlmMerge.Engine.Kernels;

/// <summary>A range task's float32 scratch: <c>count</c> buffers of a block each (<see cref="KernelParallel.Block"/> elements unless told), 64-byte aligned.</summary>
internal sealed unsafe class KernelScratch : IDisposable
{
    private readonly int _block;
    private float* _memory;

    /// <param name="count">Buffers.</param>
    /// <param name="block">Floats per buffer (a multiple of 16); the buffers lie back to back.</param>
    public KernelScratch(int count, int block = KernelParallel.Block)
    {
        _block = block;
        _memory = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(1, count) * (long)block * sizeof(float)), 64);
    }

    public float* this[int index] => _memory + (long)index * _block;

    public void Dispose()
    {
        if (_memory != null)
            NativeMemory.AlignedFree(_memory);
        _memory = null;
    }
}
