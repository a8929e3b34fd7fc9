using LlmMerge.Core;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Tests;

public class TorchSharpTests
{
    [Test]
    public void LibtorchLoadsAndComputes()
    {
        // Fails when libLibTorchSharp.so cannot load (e.g. the libstdc++ compatibility patch did not run).
        TorchRuntime.Initialize();
        using var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var b = a.matmul(a);
        Assert.That(b.data<float>().ToArray(), Is.EqualTo(new float[] { 7, 10, 15, 22 }));
        using var bf = a.to(ScalarType.BFloat16).to(ScalarType.Float32);
        Assert.That(bf.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 2, 3, 4 }));
    }

    [Test]
    public void CudaWithoutAGpuFailsClearly()
    {
        if (cuda.is_available())
            Assert.Ignore("a CUDA device is present");
        var e = Assert.Throws<LlmMergeException>(() => TorchRuntime.ResolveDevice("cuda"));
        Assert.That(e!.Message, Does.Contain("no CUDA device").And.Contain("--device cpu"));
    }
}
