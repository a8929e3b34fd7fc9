using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Execution;
using LlmMerge.Engine.Methods;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;
using LlmMerge.Tests.Eval;
using LlmMerge.Tests.Support;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Merging;

/// <summary>
/// The executor's sinks: a merge written into a loaded model's parameters equals the folder a disk merge writes, and
/// inputs kept in a cache across merges are never changed by a method.
/// </summary>
[NonParallelizable]
public class MergeSinkTests
{
    private static string Zoo(string model) => Path.Combine(CompetitionData.RepoRoot(), "merges", "zoo", model);

    private static MergeRecipe Ties(double density)
    {
        string d = density.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return MergeRecipeParser.Parse($"""
            merge_method: ties
            base_model: {Zoo("base")}
            parameters:
              normalize: true
            models:
              - model: {Zoo("expert-arithmetic")}
                parameters:
                  weight: 0.7
                  density: {d}
              - model: {Zoo("expert-reversal")}
                parameters:
                  weight: 0.5
                  density: {d}
            dtype: float32
            out_dtype: bfloat16
            """);
    }

    private static Dictionary<string, float[]> Parameters(DecoderForCausalLM model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.to(ScalarType.Float32).data<float>().ToArray());

    private static Dictionary<string, float[]> MergedOnDisk(MergeRecipe recipe, TempDir dir, string name)
    {
        using (var models = new ModelResolver([Directory.GetCurrentDirectory()]))
            new MergeExecutor(models, new MergeOptions()).Run(recipe, dir[name]);
        using var loaded = CausalLmLoader.LoadModel(dir[name]);
        return Parameters(loaded.Model);
    }

    [Test]
    public void InMemoryMergeEqualsTheFolderADiskMergeWrites()
    {
        using var dir = new TempDir();
        var expected = MergedOnDisk(Ties(0.5), dir, "disk");

        using var model = CausalLmLoader.LoadModel(Zoo("base"));
        using (var models = new ModelResolver([Directory.GetCurrentDirectory()]))
        using (var sink = ParameterSink.For(model.Model))
            new MergeExecutor(models, new MergeOptions()).Run(Ties(0.5), sink);
        var actual = Parameters(model.Model);

        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        foreach (var (name, values) in expected)
            Assert.That(actual[name], Is.EqualTo(values), name);
        Assert.That(Directory.GetFileSystemEntries(dir.Path), Has.Length.EqualTo(1), "the in-memory merge wrote nothing");
    }

    [Test]
    public void CachedInputsServeManyMergesWithTheResultsOfFreshOnes()
    {
        using var dir = new TempDir();
        var fresh = new[] { 0.3, 0.8 }.Select((d, i) => MergedOnDisk(Ties(d), dir, $"d{i}")).ToList();

        using var model = CausalLmLoader.LoadModel(Zoo("base"));
        using var cache = new InputTensorCache();
        using var models = new ModelResolver([Directory.GetCurrentDirectory()]);
        // 0.3 twice around 0.8: a method that wrote into a cached input would change the second 0.3.
        foreach (var (density, expected) in new[] { (0.3, fresh[0]), (0.8, fresh[1]), (0.3, fresh[0]) })
        {
            using (var sink = ParameterSink.For(model.Model))
                new MergeExecutor(models, new MergeOptions(), cache).Run(Ties(density), sink);
            var actual = Parameters(model.Model);
            foreach (var (name, values) in expected)
                Assert.That(actual[name], Is.EqualTo(values), $"density {density}: {name}");
        }
        Assert.That(cache.Count, Is.GreaterThan(0));
    }

    [Test]
    public void ASinkRefusesAMergeOfAnotherShape()
    {
        using var model = CausalLmLoader.LoadModel(Zoo("base"));
        var first = model.Model.named_parameters().First();
        using var models = new ModelResolver([Directory.GetCurrentDirectory()]);
        var sink = new ParameterSink([(first.name, zeros(3, 3))]);
        var e = Assert.Throws<Core.LlmMergeException>(() => new MergeExecutor(models, new MergeOptions()).Run(Ties(0.5), sink))!;
        Assert.That(e.Message, Does.Contain(first.name).And.Contain("shape"));
    }

    /// <summary>Every registered method, on inputs marked shared, leaves every input tensor as it was.</summary>
    [Test]
    public void NoMethodWritesIntoSharedInputs()
    {
        TorchRuntime.Initialize();
        foreach (string name in MergeMethodRegistry.Names)
        {
            var method = MergeMethodRegistry.Get(name);
            using var scope = NewDisposeScope();
            int count = new[] { 3, 2, 1 }.First(n => Accepts(method, n));
            var gen = new Generator(7);
            var baseRef = new ModelReference("m0");
            var inputs = new List<ModelTensor>();
            for (int i = 0; i < count; i++)
            {
                var tp = method.TensorParameters.ToDictionary(p => p.Name, p => (object?)(p.Default ?? 0.5));
                inputs.Add(new ModelTensor(new ModelReference($"m{i}"), randn([6, 5], generator: gen), tp));
            }
            var originals = inputs.Select(t => t.Tensor.clone()).ToList();
            var globals = method.Parameters.ToDictionary(p => p.Name, p => p.IsList ? p.Default : (object?)(p.Default ?? 0.5));
            method.Merge(new MergeInputs
            {
                TensorName = "model.layers.0.mlp.up_proj.weight",
                Tensors = inputs,
                BaseModel = method.RequiresBaseModel || count > 1 ? baseRef : null,
                Parameters = globals,
                Random = gen,
                InputsShared = true,
                Prepared = Statistics(method, inputs),
            });
            for (int i = 0; i < count; i++)
                Assert.That(inputs[i].Tensor.data<float>().ToArray(), Is.EqualTo(originals[i].data<float>().ToArray()), $"{name} changed input {i}");
        }
    }

    /// <summary>What a preparing method's calibration would hand it for the tensor: statistics of the right shapes, made here.</summary>
    private static object? Statistics(IMergeMethod method, IReadOnlyList<ModelTensor> inputs) => method switch
    {
        FisherMerge => new FisherStatistics(inputs.ToDictionary(t => t.Model, t => t.Tensor.square()), inputs.ToDictionary(t => t.Model, _ => 1.0)),
        RegMeanMerge => new RegMeanStatistics(inputs.ToDictionary(t => t.Model, t => t.Tensor.t().matmul(t.Tensor))),
        IPreparingMergeMethod => throw new AssertionException($"{method.Name} prepares statistics this test does not know how to make"),
        _ => null,
    };

    private static bool Accepts(IMergeMethod method, int count)
    {
        try
        {
            method.ValidateModelCount(count, true);
            return true;
        }
        catch (Core.LlmMergeException)
        {
            return false;
        }
    }
}
