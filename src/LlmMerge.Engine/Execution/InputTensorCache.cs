using LlmMerge.Core.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Execution;

/// <summary>
/// Input tensors kept across merges of the same models (search candidates differ only in parameters), so each is
/// read and converted once per search rather than once per candidate. Tensors handed out stay owned by the cache:
/// merges that read through it tell methods their inputs are shared (<see cref="Methods.MergeInputs.InputsShared"/>).
/// </summary>
public sealed class InputTensorCache : IDisposable
{
    private readonly Dictionary<(ModelReference Model, string Tensor, ScalarType DType, string Device), Tensor> _tensors = new();

    /// <summary>Bytes held.</summary>
    public long Bytes { get; private set; }

    public int Count => _tensors.Count;

    /// <summary>The cached tensor, or the one <paramref name="load"/> reads, kept from now on (outside any dispose scope).</summary>
    public Tensor GetOrLoad(ModelReference model, string tensorName, ScalarType dtype, Device device, Func<Tensor> load, out bool loaded)
    {
        var key = (model, tensorName, dtype, device.ToString());
        lock (_tensors)
        {
            if (_tensors.TryGetValue(key, out var hit))
            {
                loaded = false;
                return hit;
            }
        }
        var t = load().DetachFromDisposeScope();
        lock (_tensors)
        {
            if (_tensors.TryGetValue(key, out var raced))
            {
                t.Dispose();
                loaded = false;
                return raced;
            }
            _tensors[key] = t;
            Bytes += t.numel() * t.element_size();
        }
        loaded = true;
        return t;
    }

    public void Dispose()
    {
        foreach (var t in _tensors.Values)
            t.Dispose();
        _tensors.Clear();
        Bytes = 0;
    }
}
