using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Execution;
using LlmMerge.Engine.Kernels;
using LlmMerge.Modeling.Sources;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>
/// Whole merges through the executor's fused route (inputs read from their memory maps, outputs rounded to their
/// dtype by the kernels, written in the background) write the same bytes as <see cref="MergeOptions.ReferenceKernels"/>
/// (float32 tensors loaded and stored through libtorch, the earlier kernels): every fused method, bf16, f16 and f32
/// in and out, several DARE and DELLA seeds.
/// </summary>
[NonParallelizable]
public class FusedExecutorTests
{
    private static TempDir _dir = null!;
    private static readonly Dictionary<SafetensorsDType, string> Sets = new();

    /// <summary>Tensors of the shapes that take each code path: a vector of odd length, small matrices, one split over cores, one large enough for TIES' window.</summary>
    private static readonly (string Name, long[] Shape)[] Tensors =
    [
        ("model.embed_tokens.weight", [300, 200]),
        ("model.layers.0.input_layernorm.weight", [37]),
        ("model.layers.0.self_attn.q_proj.weight", [64, 64]),
        ("model.layers.0.mlp.up_proj.weight", [520, 512]),
        ("model.norm.weight", [64]),
        ("lm_head.weight", [300, 200]),
    ];

    [OneTimeSetUp]
    public void WriteModels()
    {
        _dir = new TempDir();
        foreach (var dtype in new[] { SafetensorsDType.BF16, SafetensorsDType.F16, SafetensorsDType.F32 })
        {
            string set = _dir[dtype.ToString()];
            for (int m = 0; m < 4; m++)
            {
                var model = new TinyModel().Layers(1);
                int index = 0;
                foreach (var (name, shape) in Tensors)
                {
                    long n = shape.Aggregate(1L, (a, b) => a * b);
                    var baseValues = Fixtures.Values(100 + index, n, 0.05);
                    var values = m == 0 ? baseValues : Fixtures.Values(1000 * m + index, n, 0.01).Select((v, i) => baseValues[i] + v).ToArray();
                    if (m == 2 && index == 2)
                    {
                        values[3] = float.NaN;
                        values[4] = float.PositiveInfinity;
                        values[5] = -0f;
                    }
                    if (dtype == SafetensorsDType.F32)
                        values = values.Select(v => MathF.Round(v, 3)).ToArray(); // ties among magnitudes
                    model.Add(name, shape, values, dtype);
                    index++;
                }
                model.Write(Path.Combine(set, m == 0 ? "base" : $"expert-{m}"));
            }
            Sets[dtype] = set;
        }
    }

    [OneTimeTearDown]
    public void Clean() => _dir.Dispose();

    private static string Recipe(string method, string outDType)
    {
        string head = $"merge_method: {method}\ndtype: float32\nout_dtype: {outDType}\n";
        return method switch
        {
            "slerp" => head + "base_model: base\nparameters: {t: 0.3}\nmodels:\n  - model: base\n  - model: expert-1\n",
            "linear" => head + "models:\n  - model: base\n    parameters: {weight: 0.5}\n  - model: expert-1\n    parameters: {weight: 1.0}\n  - model: expert-2\n    parameters: {weight: 0.7}\n",
            _ => head + "base_model: base\nparameters:\n  normalize: true\n  lambda: 0.9\nmodels:\n"
                + "  - model: expert-1\n    parameters: {weight: 1.0, density: 0.5}\n"
                + "  - model: expert-2\n    parameters: {weight: -0.4, density: 0.3}\n"
                + "  - model: expert-3\n    parameters: {weight: 0.6, density: 0.7}\n",
        };
    }

    private static Dictionary<string, byte[]> Merge(SafetensorsDType input, string method, string outDType, ulong seed, bool reference, string name)
    {
        string set = Sets[input];
        string outDir = Path.Combine(set, name);
        using (var models = new ModelResolver([set]))
            new MergeExecutor(models, new MergeOptions { RandomSeed = seed, ReferenceKernels = reference, CopyTokenizer = false })
                .Run(MergeRecipeParser.Parse(Recipe(method, outDType)), outDir);
        var files = Directory.GetFiles(outDir, "*.safetensors").ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        Directory.Delete(outDir, recursive: true);
        return files;
    }

    private static void AssertSameFiles(SafetensorsDType input, string method, string outDType, ulong seed)
    {
        var fused = Merge(input, method, outDType, seed, reference: false, "fused");
        var reference = Merge(input, method, outDType, seed, reference: true, "reference");
        Assert.That(fused.Keys, Is.EquivalentTo(reference.Keys));
        foreach (var (file, bytes) in reference)
        {
            int at = Enumerable.Range(0, Math.Min(bytes.Length, fused[file].Length)).FirstOrDefault(i => bytes[i] != fused[file][i], -1);
            Assert.That(at < 0 && fused[file].Length == bytes.Length, Is.True, $"{file}: first differing byte at {at}");
        }
    }

    private static IEnumerable<TestCaseData> DTypeCases()
    {
        foreach (var input in new[] { SafetensorsDType.BF16, SafetensorsDType.F16, SafetensorsDType.F32 })
            foreach (var output in new[] { "bfloat16", "float16", "float32" })
                yield return new TestCaseData(input, output).SetName($"ties and dare_ties, {input} in, {output} out");
    }

    [TestCaseSource(nameof(DTypeCases))]
    public void EveryDTypeInAndOut(SafetensorsDType input, string output)
    {
        AssertSameFiles(input, "ties", output, 0);
        AssertSameFiles(input, "dare_ties", output, 7);
    }

    [TestCase("task_arithmetic")]
    [TestCase("ties")]
    [TestCase("dare_ties")]
    [TestCase("dare_linear")]
    [TestCase("breadcrumbs")]
    [TestCase("breadcrumbs_ties")]
    [TestCase("della")]
    [TestCase("della_linear")]
    [TestCase("linear")]
    [TestCase("slerp")]
    public void EveryFusedMethod(string method)
    {
        AssertSameFiles(SafetensorsDType.BF16, method, "bfloat16", 0);
        AssertSameFiles(SafetensorsDType.F32, method, "float16", 1);
    }

    [TestCase(1UL)]
    [TestCase(12345UL)]
    [TestCase(ulong.MaxValue)]
    public void EveryRandomSeed(ulong seed)
    {
        AssertSameFiles(SafetensorsDType.BF16, "dare_ties", "bfloat16", seed);
        AssertSameFiles(SafetensorsDType.BF16, "della", "bfloat16", seed);
    }

    [Test]
    public void TiesComputesWithoutStartingLibtorch()
    {
        // Not a proof (libtorch may be loaded by an earlier test in this process), but the route must not need it:
        // a fused merge into a folder draws no generator and allocates no libtorch tensor.
        var before = PhaseClock.Enabled;
        PhaseClock.Enabled = true;
        PhaseClock.Reset();
        try
        {
            Merge(SafetensorsDType.BF16, "ties", "bfloat16", 0, reference: false, "phases");
            var phases = PhaseClock.Snapshot().Select(p => p.Phase).ToList();
            Assert.That(phases, Does.Contain("fused kernels"));
            Assert.That(phases, Does.Not.Contain("method (general path)"), "every tensor of a float32 TIES merge is fused");
        }
        finally
        {
            PhaseClock.Enabled = before;
            PhaseClock.Reset();
        }
    }
}
