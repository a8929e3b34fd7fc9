using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Core.PyTorch;

/// <summary>A Python tuple.</summary>
internal sealed record PickledTuple(object?[] Items);

/// <summary>A Python dict or OrderedDict, its items in insertion order; keys are strings or integers.</summary>
internal sealed class PickledDict
{
    private readonly Dictionary<object, int> _index = new();

    public List<KeyValuePair<object, object?>> Items { get; } = [];

    public void Set(object key, object? value)
    {
        if (_index.TryGetValue(key, out int i))
        {
            Items[i] = new(key, value);
            return;
        }
        _index[key] = Items.Count;
        Items.Add(new(key, value));
    }

    public object? Get(string key) => _index.TryGetValue(key, out int i) ? Items[i].Value : null;
}

/// <summary>One of the few globals a state dict's pickle may name: a callable the unpickler imitates, never imports.</summary>
internal sealed record PickledGlobal(string Module, string Name, SafetensorsDType? StorageDType)
{
    public string FullName => $"{Module}.{Name}";
}

/// <summary>torch.save's persistent id of a storage: <c>('storage', torch.FloatStorage, key, location, numel)</c>.</summary>
internal sealed record StorageReference(string Key, string StorageType, SafetensorsDType DType, string Location, long Numel);

/// <summary>What <c>torch._utils._rebuild_tensor_v2</c> would build: a view of a storage.</summary>
internal sealed record TensorReference(StorageReference Storage, long Offset, long[] Shape, long[] Stride);
