using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Modeling.Sources;

/// <summary>
/// A base model with a PEFT LoRA adapter applied tensor by tensor: reading an adapted weight computes
/// W + scale·B·A (transposed for embeddings and fan_in_fan_out) and nothing else is materialised. The result is
/// rounded to the base weight's stored dtype, because mergekit first writes the merged model (PEFT's
/// merge_and_unload, saved in the base's dtype) and merges that; rounding as that file would keep the results alike.
/// </summary>
public sealed class LoraModelSource : IModelSource
{
    private readonly ModelFolder _base;
    private readonly LoraAdapter _adapter;

    public LoraModelSource(ModelReference reference, ModelFolder baseFolder, LoraAdapter adapter)
    {
        Reference = reference;
        _base = baseFolder;
        _adapter = adapter;
    }

    public ModelReference Reference { get; }

    public LoraAdapter Adapter => _adapter;

    // mergekit takes config and tokenizer from the base path of BASE+ADAPTER; PEFT does not save a config of its own.
    public string Directory => _base.Directory;

    public ModelConfig? Config => _base.Config;

    public IReadOnlyList<string> TensorNames => _base.TensorNames;

    public bool Contains(string name) => _base.Contains(name);

    public TensorInfo GetInfo(string name) => _base.GetInfo(name);

    public Tensor Load(string name, ScalarType computeType, Device device)
    {
        var baseFile = _base.GetFile(name);
        var info = baseFile.GetInfo(name);
        bool adapted = _adapter.Pairs.TryGetValue(name, out var pair);
        bool replaced = _adapter.Replacements.TryGetValue(name, out var replacement);
        if (!adapted && !replaced)
            return TensorBridge.Load(baseFile, info, computeType, device);

        using var scope = NewDisposeScope();
        var stored = info.DType.ToScalarType();
        // float32 holds bf16/f16 exactly and is what PEFT's merge computes in for them; float64 weights stay float64.
        var wide = stored == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor w;
        if (replaced)
        {
            w = TensorBridge.Load(_adapter.File, replacement!, wide, device);
        }
        else
        {
            w = TensorBridge.Load(baseFile, info, wide, device);
            var a = TensorBridge.Load(_adapter.File, pair!.A, wide, device);
            var b = TensorBridge.Load(_adapter.File, pair.B, wide, device);
            var delta = b.matmul(a);
            if (pair.Transposed)
                delta = delta.t();
            w = w.add_(delta.mul_(pair.Scale));
        }
        var result = w.to(stored).to(computeType);
        return result.MoveToOuterDisposeScope();
    }

    public ITensorFile RawFile(string name) =>
        _adapter.Pairs.ContainsKey(name) || _adapter.Replacements.ContainsKey(name)
            ? throw new InvalidOperationException($"'{name}' is changed by adapter '{Reference.Lora}'; its stored bytes are not its value")
            : _base.GetFile(name);

    public long Evict(string name)
    {
        var file = _base.GetFile(name);
        var info = file.GetInfo(name);
        long bytes = 0;
        if (_adapter.Replacements.TryGetValue(name, out var r))
        {
            _adapter.File.Evict(r);
            return r.ByteLength;
        }
        file.Evict(info);
        bytes += info.ByteLength;
        if (_adapter.Pairs.TryGetValue(name, out var pair))
        {
            _adapter.File.Evict(pair.A);
            _adapter.File.Evict(pair.B);
            bytes += pair.A.ByteLength + pair.B.ByteLength;
        }
        return bytes;
    }
}
