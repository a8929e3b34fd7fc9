using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// Each layer's keys and values of the positions run so far, [batch, kv_heads, length, head_dim], after rotary
/// embedding. The cache owns its tensors (they live outside any dispose scope) and frees them on Dispose.
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;

    public KeyValueCache(int layers)
    {
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
    }

    /// <summary>Positions held; the next token run against this cache sits at this position.</summary>
    public long Length { get; private set; }

    /// <summary>
    /// Joins a layer's new keys and values to the cached ones and returns the whole. With
    /// <paramref name="store"/> the cache keeps the result; without, the cache stays as it was, which is how
    /// several continuations share one context: a cached batch of one is broadcast to the new batch.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values, bool store)
    {
        var pastK = _keys[layer];
        var pastV = _values[layer];
        Tensor k, v;
        if (pastK is null || pastV is null)
        {
            (k, v) = (keys, values);
        }
        else
        {
            long batch = keys.shape[0];
            if (pastK.shape[0] != batch)
            {
                pastK = pastK.expand(batch, -1, -1, -1);
                pastV = pastV.expand(batch, -1, -1, -1);
            }
            k = cat([pastK, keys], 2);
            v = cat([pastV, values], 2);
        }
        if (store)
        {
            _keys[layer]?.Dispose();
            _values[layer]?.Dispose();
            // Kept past the forward pass's dispose scope; the callers' tensors stay in it.
            _keys[layer] = k.alias().DetachFromDisposeScope();
            _values[layer] = v.alias().DetachFromDisposeScope();
        }
        return (k, v);
    }

    /// <summary>Called once per forward pass after every layer has appended its <paramref name="added"/> positions.</summary>
    public void Advance(long added) => Length += added;

    public void Dispose()
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i]?.Dispose();
            _values[i]?.Dispose();
            _keys[i] = _values[i] = null;
        }
        Length = 0;
    }
}
