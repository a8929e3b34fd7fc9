using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Methods;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Support;

/// <summary>One model's input to <see cref="MethodRunner.Run"/>: its values and the tensor parameters it sets.</summary>
public sealed record MethodInput(string Name, float[] Values, Dictionary<string, object?>? Parameters = null);

/// <summary>Calls a merge method on one float32 tensor directly, filling unset parameters with the method's defaults as the planner does.</summary>
public static class MethodRunner
{
    /// <summary>
    /// Merges <paramref name="inputs"/> (recipe order; the one named <paramref name="baseModel"/> is the base) with a generator seeded by
    /// <paramref name="seed"/>; <paramref name="prepared"/> builds what a preparing method would have prepared for the tensor (inside the call's scope).
    /// </summary>
    public static float[] Run(string method, long[] shape, IReadOnlyList<MethodInput> inputs, string? baseModel,
        Dictionary<string, object?>? globals = null, ulong seed = 1, Func<object?>? prepared = null, string tensorName = "w")
    {
        TorchRuntime.Initialize();
        var m = MergeMethodRegistry.Get(method);
        using var scope = NewDisposeScope();
        var ps = new Dictionary<string, object?>(globals ?? []);
        foreach (var p in m.Parameters)
            ps.TryAdd(p.Name, p.Default);
        var tensors = new List<ModelTensor>();
        foreach (var input in inputs)
        {
            var tp = new Dictionary<string, object?>(input.Parameters ?? []);
            foreach (var p in m.TensorParameters)
                tp.TryAdd(p.Name, p.Default);
            tensors.Add(new ModelTensor(new ModelReference(input.Name), tensor(input.Values).reshape(shape), tp));
        }
        using var random = new Generator(seed);
        var result = m.Merge(new MergeInputs
        {
            TensorName = tensorName,
            Tensors = tensors,
            BaseModel = baseModel is null ? null : new ModelReference(baseModel),
            Parameters = ps,
            Random = random,
            Prepared = prepared?.Invoke(),
        });
        Assert.That(result.shape, Is.EqualTo(shape), "shape of the merged tensor");
        return result.to(ScalarType.Float32).data<float>().ToArray();
    }

    /// <summary>Bernoulli draws from libtorch's generator seeded as <see cref="Run"/> seeds it, one tensor of probabilities after another.</summary>
    public static List<float[]> Draws(ulong seed, long[] shape, params float[][] probabilities)
    {
        TorchRuntime.Initialize();
        using var scope = NewDisposeScope();
        using var random = new Generator(seed);
        return probabilities.Select(p => tensor(p).reshape(shape).bernoulli(random).data<float>().ToArray()).ToList();
    }
}
