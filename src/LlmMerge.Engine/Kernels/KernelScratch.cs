using System.Runtime.InteropServices;

namespace LlmMerge.Engine.Kernels;

/// <summary>A range task's float32 scratch: <c>count</c> blocks of <see cref="KernelParallel.Block"/> elements, 64-byte aligned.</summary>
internal sealed unsafe class KernelScratch : IDisposable
{
    private float* _memory;

    public KernelScratch(int count)
    {
        _memory = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(1, count) * KernelParallel.Block * sizeof(float)), 64);
    }

    public float* this[int index] => _memory + (long)index * KernelParallel.Block;

    public void Dispose()
    {
        if (_memory != null)
            NativeMemory.AlignedFree(_memory);
        _memory = null;
    }
}
