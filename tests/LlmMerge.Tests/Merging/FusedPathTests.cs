using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Methods;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Merging;

/// <summary>The fused CPU path of the task-arithmetic family must give what the libtorch path gives.</summary>
public class FusedPathTests
{
    [TearDown]
    public void Reset() => TaskArithmeticFamily.ForceTorchPath = false;

    private static float[] Run(IMergeMethod method, bool torchPath, Dictionary<string, object?> globals, double density)
    {
        TorchRuntime.Initialize();
        TaskArithmeticFamily.ForceTorchPath = torchPath;
        using var scope = NewDisposeScope();
        var gen = new Generator(1);
        var shape = new long[] { 37, 53 };
        var baseRef = new ModelReference("base");
        var inputs = new List<ModelTensor> { new(baseRef, randn(shape, generator: gen), new Dictionary<string, object?>()) };
        double[] weights = [0.9, -0.4, 0.6];
        for (int j = 0; j < 3; j++)
        {
            var t = inputs[0].Tensor + randn(shape, generator: gen) * 0.1;
            inputs.Add(new ModelTensor(new ModelReference($"m{j}"), t, new Dictionary<string, object?> { ["weight"] = weights[j], ["density"] = density }));
        }
        var result = method.Merge(new MergeInputs
        {
            TensorName = "w",
            Tensors = inputs,
            BaseModel = baseRef,
            Parameters = globals,
            Random = gen,
        });
        return result.data<float>().ToArray();
    }

    [TestCase("ties", 0.4, true, false, 1.0)]
    [TestCase("ties", 0.7, false, true, 0.5)]
    [TestCase("task_arithmetic", 1.0, false, false, 0.8)]
    [TestCase("task_arithmetic", 1.0, true, false, 1.0)]
    public void FusedEqualsLibtorch(string name, double density, bool normalize, bool rescale, double lambda)
    {
        var method = MergeMethodRegistry.Get(name);
        var globals = new Dictionary<string, object?> { ["normalize"] = normalize, ["rescale"] = rescale, ["lambda"] = lambda, ["int8_mask"] = false };
        var fused = Run(method, torchPath: false, globals, density);
        var reference = Run(method, torchPath: true, globals, density);
        Assert.That(fused, Has.Length.EqualTo(reference.Length));
        for (int i = 0; i < fused.Length; i++)
            Assert.That(fused[i], Is.EqualTo(reference[i]).Within(1e-5 + 1e-5 * Math.Abs(reference[i])), $"[{i}]");
    }
}
