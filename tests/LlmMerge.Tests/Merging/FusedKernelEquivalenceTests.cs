using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Kernels;
using LlmMerge.Engine.Methods;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Merging;

/// <summary>
/// Every fused method gives the same bits as the code it replaces (<see cref="MergeInputs.ReferenceKernels"/>:
/// the earlier fused TIES path and the libtorch operations), and leaves the tensor's generator where that code
/// leaves it: on odd shapes, tensors large enough to be split over cores and chunked by libtorch's sum, quantised
/// values with many equal magnitudes, NaN, ±∞ and -0, and data whose sample misleads TIES' window.
/// </summary>
public class FusedKernelEquivalenceTests
{
    private static readonly long[][] Shapes = [[37, 53], [40001], [512, 520]];

    public enum Data
    {
        Plain,
        Special,   // NaN, ±∞, -0 in the base and an expert
        Misleading, // tiny deltas exactly where TIES samples, large ones elsewhere
    }

    private static readonly (double[] Densities, bool Rescale, bool Normalize, double Lambda)[] Settings =
    [
        ([0.5, 0.5, 0.5], false, true, 1.0),
        ([0.3, 1.0, 0.9], true, false, 0.7),
        ([0.7, 0.2, 0.5], true, true, 1.0),
        ([1.0, 0.6, 0.01], false, false, 1.3),
    ];

    private static IEnumerable<TestCaseData> Cases()
    {
        string[] methods = ["task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties", "della", "della_linear"];
        int i = 0;
        foreach (var method in methods)
            // The large shape exercises TIES' window and DARE's chunked sums; the others do not need it.
            foreach (var shape in Shapes.Where(sh => sh.Length == 1 || sh[0] < 100 || method is "ties" or "dare_ties"))
                foreach (var data in Enum.GetValues<Data>())
                {
                    int setting = i++ % Settings.Length;
                    yield return new TestCaseData(method, shape, data, setting).SetName($"{method} [{string.Join("x", shape)}] {data} setting {setting}");
                }
    }

    private static MergeInputs Inputs(IMergeMethod m, long[] shape, Data data, int setting, Generator random, bool reference, int models = 4)
    {
        var gen = new Generator(1234);
        var baseRef = new ModelReference("base");
        var b = randn(shape, generator: gen);
        var flat = b.view(-1);
        long n = flat.shape[0];
        if (data == Data.Special)
        {
            flat[0] = float.NaN;
            flat[1] = float.PositiveInfinity;
            flat[2] = -0f;
            flat[5] = 0f;
        }
        var (densities, rescale, normalize, lambda) = Settings[setting];
        var baseParameters = new Dictionary<string, object?> { ["weight"] = 0.5, ["density"] = 1.0 };
        foreach (var p in m.TensorParameters)
            baseParameters.TryAdd(p.Name, p.Default);
        var list = new List<ModelTensor> { new(baseRef, b, baseParameters) };
        double[] weights = [0.9, -0.4, 0.6];
        for (int j = 0; j < models - 1; j++)
        {
            var noise = randn(shape, generator: gen) * 0.1;
            if (data == Data.Misleading)
            {
                var f = noise.view(-1);
                f.mul_(30);
                foreach (var (start, count) in MagnitudeWindow.SampleRunsOf(n))
                    f.narrow(0, start, count).div_(1000);
            }
            // Rounded to two decimals: many deltas share a magnitude, so cuts fall inside groups of equal ones.
            var x = (b + noise).round(2);
            if (data == Data.Special && j == 1)
            {
                var f = x.view(-1);
                f[3] = float.NaN;
                f[4] = float.NegativeInfinity;
            }
            var tp = new Dictionary<string, object?> { ["weight"] = weights[j], ["density"] = densities[j] };
            foreach (var p in m.TensorParameters)
                tp.TryAdd(p.Name, p.Default);
            list.Add(new ModelTensor(new ModelReference($"m{j}"), x, tp));
        }
        var globals = new Dictionary<string, object?> { ["rescale"] = rescale, ["normalize"] = normalize, ["lambda"] = lambda, ["t"] = 0.3 };
        foreach (var p in m.Parameters)
            globals.TryAdd(p.Name, p.Default);
        return new MergeInputs
        {
            TensorName = "w",
            Tensors = list,
            BaseModel = baseRef,
            Parameters = globals,
            Random = random,
            ReferenceKernels = reference,
        };
    }

    /// <summary>
    /// The merged values, then four draws from the generator (so its state after the merge is compared too); null
    /// where the fused kernel declines the inputs or the reference refuses them.
    /// </summary>
    private static float[]? Merge(IMergeMethod m, long[] shape, Data data, int setting, bool reference, int models = 4)
    {
        using var scope = NewDisposeScope();
        using var random = new Generator(42);
        var inputs = Inputs(m, shape, data, setting, random, reference, models);
        Tensor? result;
        if (reference)
        {
            try
            {
                result = m.Merge(inputs);
            }
            catch (Core.LlmMergeException)
            {
                return null;
            }
        }
        else
        {
            result = FusedTensors.TryMerge((IFusedMergeMethod)m, inputs);
            if (result is null)
                return null;
        }
        return result.data<float>().ToArray().Concat(rand(4, generator: random).data<float>().ToArray()).ToArray();
    }

    /// <summary>The same bits, or both declined: the fused kernel leaves exactly the inputs the reference refuses to it, which then reports them.</summary>
    private static void AssertSameBits(float[]? fused, float[]? reference)
    {
        Assert.That(fused is null, Is.EqualTo(reference is null), fused is null ? "the fused kernel declined inputs the reference merges" : "the reference refused inputs the fused kernel merged");
        if (fused is null || reference is null)
            return;
        Assert.That(fused, Has.Length.EqualTo(reference.Length));
        for (int i = 0; i < fused.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(fused[i]) != BitConverter.SingleToInt32Bits(reference[i]))
                Assert.Fail($"[{i}] fused {fused[i]:R} ({BitConverter.SingleToInt32Bits(fused[i]):X8}), reference {reference[i]:R} ({BitConverter.SingleToInt32Bits(reference[i]):X8})");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void TaskArithmeticFamily(string method, long[] shape, Data data, int setting)
    {
        TorchRuntime.Initialize();
        var m = MergeMethodRegistry.Get(method);
        AssertSameBits(Merge(m, shape, data, setting, reference: false), Merge(m, shape, data, setting, reference: true));
    }

    [TestCase("linear", 4)]
    [TestCase("linear", 1)]
    [TestCase("slerp", 2)]
    [TestCase("slerp", 1)]
    public void LinearAndSlerp(string method, int models)
    {
        TorchRuntime.Initialize();
        var m = MergeMethodRegistry.Get(method);
        foreach (var shape in Shapes)
        {
            foreach (var data in new[] { Data.Plain, Data.Special })
            {
                foreach (int setting in new[] { 0, 1 })
                    AssertSameBits(Merge(m, shape, data, setting, false, models), Merge(m, shape, data, setting, true, models));
            }
        }
    }

    [Test]
    public void SlerpOfNearlyColinearTensorsInterpolatesLinearlyAsTheReference()
    {
        TorchRuntime.Initialize();
        using var scope = NewDisposeScope();
        var m = MergeMethodRegistry.Get("slerp");
        float[] Run(bool reference)
        {
            var a = randn([300, 70], generator: new Generator(5));
            var b = a + randn([300, 70], generator: new Generator(6)) * 1e-3;
            var inputs = new MergeInputs
            {
                TensorName = "w",
                Tensors = [new(new ModelReference("a"), a, new Dictionary<string, object?>()), new(new ModelReference("b"), b, new Dictionary<string, object?>())],
                BaseModel = new ModelReference("a"),
                Parameters = new Dictionary<string, object?> { ["t"] = 0.25 },
                Random = new Generator(1),
                ReferenceKernels = reference,
            };
            return (reference ? m.Merge(inputs) : FusedTensors.TryMerge((IFusedMergeMethod)m, inputs)!).data<float>().ToArray();
        }
        AssertSameBits(Run(false), Run(true));
    }

    [Test]
    public void DeclinedInputsAreTheOnesTheReferenceRefuses()
    {
        TorchRuntime.Initialize();
        // DELLA with density + epsilon >= 1, TIES keeping no entry: the reference's errors, not the kernel's.
        var della = MergeMethodRegistry.Get("della");
        Assert.That(Merge(della, [37, 53], Data.Plain, 1, reference: false), Is.Null);
        Assert.That(Merge(della, [37, 53], Data.Plain, 1, reference: true), Is.Null, "the reference refuses epsilon 0.15 at density 0.9");
        var ties = MergeMethodRegistry.Get("ties");
        using var scope = NewDisposeScope();
        var inputs = Inputs(ties, [3, 3], Data.Plain, 3, new Generator(1), reference: false);
        Assert.That(FusedTensors.TryMerge((IFusedMergeMethod)ties, inputs), Is.Null, "density 0.01 of 9 entries keeps none");
        Assert.Throws<Core.LlmMergeException>(() => ties.Merge(inputs));
    }
}
