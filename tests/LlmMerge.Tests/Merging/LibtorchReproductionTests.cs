using LlmMerge.Engine.Kernels;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Merging;

/// <summary>
/// What the fused kernels reproduce of libtorch, checked against libtorch itself: its CPU generator's stream, its
/// float32 sum and norm, and the orders its sorts give.
/// </summary>
public class LibtorchReproductionTests
{
    [SetUp]
    public void Start() => TorchRuntime.Initialize();

    [Test]
    public unsafe void TheMersenneTwisterContinuesLibtorchsStream()
    {
        using var scope = NewDisposeScope();
        using var theirs = new Generator(987654321);
        using var ours = new Generator(987654321);
        var probabilities = rand(5000, generator: new Generator(3));
        var expected = probabilities.bernoulli(theirs).data<float>().ToArray();
        var mt = TorchMersenneTwister.From(ours);
        var u = new float[5000];
        fixed (float* p = u)
            mt.Uniform24(p, u.Length);
        var p2 = probabilities.data<float>().ToArray();
        for (int i = 0; i < u.Length; i++)
            Assert.That(u[i] < p2[i] ? 1f : 0f, Is.EqualTo(expected[i]), $"draw {i}");
        mt.SaveTo(ours);
        Assert.That(rand(100, generator: ours).data<float>().ToArray(), Is.EqualTo(rand(100, generator: theirs).data<float>().ToArray()), "the stream after the draws");
    }

    [Test]
    public unsafe void ScalarBernoulliIsReproducedUnlessLibtorchDrawsFromMkl()
    {
        // libtorch draws bernoulli_(p) from MKL's stream on Intel CPUs (when built with MKL), from its MT19937 elsewhere.
        bool intel = File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("vendor_id", StringComparison.Ordinal) && l.Contains("GenuineIntel"));
        if (!TorchMersenneTwister.Reproduces)
        {
            Assert.That(intel, Is.True, "bernoulli_(p) is not reproduced on a CPU where libtorch should draw from its MT19937");
            return;
        }
        using var scope = NewDisposeScope();
        foreach (double p in new[] { 0.0, 0.3, 0.5, 0.999 })
        {
            using var theirs = new Generator(42);
            using var ours = new Generator(42);
            var expected = empty(10007, ScalarType.Float32).bernoulli_(p, theirs).data<float>().ToArray();
            var bits = new byte[expected.Length / 8 + 3];
            fixed (byte* b = bits)
                TorchMersenneTwister.From(ours).Bernoulli(p, b, expected.Length);
            for (int i = 0; i < expected.Length; i++)
                Assert.That((float)((bits[i >> 3] >> (i & 7)) & 1), Is.EqualTo(expected[i]), $"p {p}, draw {i}");
        }
    }

    private static float[] Spread(int n, int seed, bool signed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(Math.Exp(r.NextDouble() * 16 - 8) * (signed && r.Next(2) == 0 ? -1 : 1))).ToArray();
    }

    [TestCase(1)]
    [TestCase(5)]
    [TestCase(8)]
    [TestCase(63)]
    [TestCase(1025)]
    [TestCase(32767)]
    [TestCase(32768)]
    [TestCase(100003)]
    [TestCase(1 << 20)]
    public unsafe void SumsAsLibtorchSums(int n)
    {
        Assert.That(TorchSum.Reproduces, Is.True, "libtorch's float32 sum is not reproduced on this CPU (the fused DARE, DELLA, breadcrumbs rescale and SLERP fall back to libtorch)");
        using var scope = NewDisposeScope();
        foreach (bool signed in new[] { false, true })
        {
            var x = Spread(n, n, signed);
            float expected = tensor(x).sum().item<float>();
            fixed (float* p = x)
                Assert.That(BitConverter.SingleToInt32Bits(TorchSum.Sum(p, n, get_num_threads(), TorchSum.Width)), Is.EqualTo(BitConverter.SingleToInt32Bits(expected)), $"signed {signed}");
            // A 2-D tensor is summed as its flat memory.
            float expected2 = tensor(x).reshape(1, n).sum().item<float>();
            Assert.That(expected2, Is.EqualTo(expected));
        }
    }

    [TestCase(3)]
    [TestCase(15)]
    [TestCase(1001)]
    [TestCase(65539)]
    public unsafe void NormsAsLibtorchNorms(int n)
    {
        Assert.That(TorchNorm.Reproduces, Is.True, "libtorch's float32 norm is not reproduced on this CPU (the fused SLERP falls back to libtorch)");
        using var scope = NewDisposeScope();
        for (int seed = 0; seed < 5; seed++)
        {
            var x = Spread(n, seed * 1000 + n, signed: true);
            float expected = tensor(x).norm().item<float>();
            fixed (float* p = x)
                Assert.That(TorchNorm.Norm(p, n, TorchNorm.Width, TorchNorm.FusedVector, TorchNorm.FusedTail), Is.EqualTo(expected), $"seed {seed}");
        }
    }

    [Test]
    public unsafe void RowRanksAreTheStableSortsRanks()
    {
        var r = new Random(5);
        foreach (int width in new[] { 1, 2, 9, 300, 5000 })
        {
            // Few distinct keys, so equal keys are common and their order matters.
            var keys = Enumerable.Range(0, width).Select(_ => (uint)r.Next(0, 40) << r.Next(0, 20)).ToArray();
            var expected = new int[width];
            var order = Enumerable.Range(0, width).OrderBy(i => keys[i]).ThenBy(i => i).ToArray();
            for (int pos = 0; pos < width; pos++)
                expected[order[pos]] = pos;
            var ranks = new int[width];
            fixed (uint* k = keys)
            fixed (int* p = ranks)
                new RowRanks(width).Rank(k, width, p);
            Assert.That(ranks, Is.EqualTo(expected), $"width {width}");
        }
    }

    [Test]
    public void QuickselectFindsEveryOrderStatistic()
    {
        var r = new Random(9);
        var keys = Enumerable.Range(0, 2000).Select(_ => (uint)r.Next(0, 300)).ToArray();
        var sorted = keys.Order().ToArray();
        foreach (int k in new[] { 0, 1, 999, 1000, 1998, 1999 })
            Assert.That(MagnitudeWindow.Select(keys.ToArray(), k), Is.EqualTo(sorted[k]), $"k {k}");
    }
}
