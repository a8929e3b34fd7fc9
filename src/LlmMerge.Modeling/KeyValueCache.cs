using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// Each layer's keys and values of the slots run so far, [batch, kv_heads, slots, head_dim], after rotary
/// embedding. Rows of a first pass that were shorter than the longest are right-padded: row r's tokens fill slots
/// 0..<see cref="Lengths"/>[r]-1, slots up to <see cref="Width"/> are padding (masked out of every later pass), and
/// later slots continue the row at position Lengths[r]. The cache owns its tensors (they live outside any dispose
/// scope) and frees them on Dispose.
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

    /// <summary>Slots held; the next token run against this cache sits in this slot.</summary>
    public long Length { get; private set; }

    /// <summary>Per row, the tokens of the first pass (the rest of its <see cref="Width"/> slots are padding); null when no row was padded.</summary>
    public long[]? Lengths { get; private set; }

    /// <summary>Slots of the first pass: where every row's later tokens begin.</summary>
    public long Width { get; private set; }

    /// <summary>Rows held (1 before anything is stored).</summary>
    public long Rows => _keys[0]?.shape[0] ?? 1;

    /// <summary>
    /// Joins a layer's new keys and values to the cached ones and returns the whole. With
    /// <paramref name="store"/> the cache keeps the result; without, the cache stays as it was, which is how
    /// several continuations share one context: a cached batch of one is broadcast to the new batch, and a cached
    /// batch of several is read row by row as <paramref name="cacheRows"/> says.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values, bool store, Tensor? cacheRows = null)
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
            if (cacheRows is not null)
            {
                pastK = pastK.index_select(0, cacheRows);
                pastV = pastV.index_select(0, cacheRows);
            }
            else if (pastK.shape[0] != batch)
            {
                if (pastK.shape[0] != 1)
                    throw new ArgumentException($"the cache holds {pastK.shape[0]} rows and the pass {batch}; say which cached row each row reads", nameof(cacheRows));
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

    /// <summary>
    /// Called once per forward pass after every layer has appended its <paramref name="added"/> slots; the first
    /// storing pass records the rows' <paramref name="lengths"/> when they were right-padded.
    /// </summary>
    public void Advance(long added, long[]? lengths = null)
    {
        if (Length == 0)
        {
            Width = added;
            if (lengths is not null && lengths.Any(l => l != added)) Lengths = lengths;
        }
        Length += added;
    }

    /// <summary>
    /// Keeps only the cached rows <paramref name="rows"/> (in that order; a row may repeat), so several generations
    /// can continue one prompt, or finished rows can leave a batch.
    /// </summary>
    public void SelectRows(long[] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        using var scope = NewDisposeScope();
        Tensor? index = null;
        for (int i = 0; i < _keys.Length; i++)
        {
            if (_keys[i] is not Tensor k || _values[i] is not Tensor v) continue;
            index ??= tensor(rows, device: k.device);
            var newK = k.index_select(0, index).DetachFromDisposeScope();
            var newV = v.index_select(0, index).DetachFromDisposeScope();
            k.Dispose();
            v.Dispose();
            _keys[i] = newK;
            _values[i] = newV;
        }
        if (Lengths is not null)
            Lengths = rows.Select(r => Lengths[r]).ToArray();
    }

    public void Dispose()
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i]?.Dispose();
            _values[i]?.Dispose();
            _keys[i] = _values[i] = null;
        }
        Length = 0;
        Width = 0;
        Lengths = null;
    }
}
