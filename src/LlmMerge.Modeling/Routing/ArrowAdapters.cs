using LlmMerge.Core;
using LlmMerge.Core.Models;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Modeling.Routing;

/// <summary>
/// LoRA adapters of one base routed together by Arrow: the checks PEFT's create_arrow_model makes (every adapter adapts
/// the same modules, all of them linear; src/peft/tuners/lora/arrow.py at 5d602fdb), the prototypes of every module, and
/// attaching <see cref="ArrowLora"/> to a loaded base so the routing runs inside its forward pass. Unlike PEFT, adapters
/// of different ranks may be routed together (each keeps its own A and B).
/// </summary>
public static class ArrowAdapters
{
    /// <summary>The tensor name of a module's prototypes [E, in] in router.safetensors.</summary>
    public static string PrototypeTensor(string module) => module + ".arrow_prototypes";

    /// <summary>The modules every adapter adapts, in the first adapter's order; a one-line error names the adapter and module that break the rules.</summary>
    public static IReadOnlyList<string> Modules(IReadOnlyList<(string Name, LoraAdapter Adapter)> adapters)
    {
        if (adapters.Count == 0)
            throw new LlmMergeException("Arrow routing needs at least one LoRA adapter");
        var first = adapters[0];
        var modules = first.Adapter.Pairs.Values.Select(p => p.Module).ToList();
        foreach (var (name, adapter) in adapters)
        {
            if (adapter.Replacements.Count > 0)
                throw new LlmMergeException($"expert '{name}': adapter {adapter.Directory} saves whole weights ({adapter.Replacements.Keys.First()}, modules_to_save); Arrow routes LoRA updates of linear layers only");
            foreach (var pair in adapter.Pairs.Values)
            {
                if (pair.Transposed)
                    throw new LlmMergeException($"expert '{name}': module '{pair.Module}' is an embedding or a fan_in_fan_out layer; Arrow routes LoRA updates of linear layers only, as PEFT does");
            }
            var mine = adapter.Pairs.Values.Select(p => p.Module).ToHashSet(StringComparer.Ordinal);
            string? missing = modules.FirstOrDefault(m => !mine.Contains(m));
            string? extra = mine.FirstOrDefault(m => !modules.Contains(m));
            if (missing is not null || extra is not null)
                throw new LlmMergeException(missing is not null
                    ? $"expert '{name}': adapter {adapter.Directory} does not adapt '{missing}', which expert '{first.Name}' does; Arrow needs every adapter on the same modules"
                    : $"expert '{name}': adapter {adapter.Directory} adapts '{extra}', which expert '{first.Name}' does not; Arrow needs every adapter on the same modules");
        }
        return modules;
    }

    /// <summary>Each module's prototypes [E, in] (float32, rows in adapter order), computed from the adapters' stored A and B.</summary>
    public static Dictionary<string, Tensor> Prototypes(IReadOnlyList<(string Name, LoraAdapter Adapter)> adapters)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (string module in Modules(adapters))
        {
            using var scope = NewDisposeScope();
            var rows = adapters.Select(x =>
            {
                var pair = x.Adapter.Pairs[module + ".weight"];
                var a = TensorBridge.Load(x.Adapter.File, pair.A, ScalarType.Float64, CPU);
                var b = TensorBridge.Load(x.Adapter.File, pair.B, ScalarType.Float64, CPU);
                return ArrowPrototype.TopRightSingularVector(a, b);
            }).ToArray();
            result[module] = stack(rows).to(ScalarType.Float32).MoveToOuterDisposeScope();
        }
        return result;
    }

    /// <summary>
    /// Attaches Arrow to every projection of <paramref name="model"/> the adapters adapt; the prototypes are read from
    /// <paramref name="prototypes"/> (router.safetensors). The model then routes each token inside its forward pass.
    /// </summary>
    public static void Attach(DecoderForCausalLM model, IReadOnlyList<(string Name, LoraAdapter Adapter)> adapters, SafetensorsFile prototypes, int topK, double temperature)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prototypes);
        var projections = model.modules().OfType<LinearProjection>().ToDictionary(p => p.QualifiedName, StringComparer.Ordinal);
        foreach (string module in Modules(adapters))
        {
            if (!projections.TryGetValue(module, out var projection))
                throw new LlmMergeException($"expert '{adapters[0].Name}': module '{module}' is not a linear projection of the base ({model.Config.Architecture}); is this the adapters' base?");
            string name = PrototypeTensor(module);
            if (!prototypes.Contains(name))
                throw new LlmMergeException($"{prototypes.Path}: no tensor '{name}'; the router's prototypes do not match its adapters, build the router again");
            var weight = projection.Weight;
            var info = prototypes.GetInfo(name);
            if (info.Shape.Length != 2 || info.Shape[0] != adapters.Count || info.Shape[1] != weight.shape[1])
                throw new LlmMergeException($"{prototypes.Path}: '{name}' is {info.ShapeText}, but {adapters.Count} adapters of a projection with {weight.shape[1]} inputs need [{adapters.Count}, {weight.shape[1]}]");
            var a = new List<Tensor>();
            var b = new List<Tensor>();
            var scales = new List<double>();
            foreach (var (expert, adapter) in adapters)
            {
                var pair = adapter.Pairs[module + ".weight"];
                if (pair.A.Shape[1] != weight.shape[1] || pair.B.Shape[0] != weight.shape[0])
                    throw new LlmMergeException($"expert '{expert}': module '{module}' has lora_A {pair.A.ShapeText} and lora_B {pair.B.ShapeText}, which do not fit the base's {string.Join("x", weight.shape)} weight");
                a.Add(TensorBridge.Load(adapter.File, pair.A, weight.dtype, weight.device));
                b.Add(TensorBridge.Load(adapter.File, pair.B, weight.dtype, weight.device));
                scales.Add(pair.Scale);
            }
            var p = TensorBridge.Load(prototypes, info, weight.dtype, weight.device);
            projection.Arrow?.Dispose();
            projection.Arrow = new ArrowLora(p, a, b, scales, topK, temperature);
        }
    }
}
