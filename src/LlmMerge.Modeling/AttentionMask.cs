using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// Which keys each new query sees: every earlier slot of its row (causal), on sliding-window layers only the last
/// <c>window</c> of them, and never a row's padding. Built once per forward pass and shared by the layers.
/// </summary>
public sealed class AttentionMask : IDisposable
{
    private AttentionMask(Tensor? mask, bool isCausal)
    {
        Mask = mask;
        IsCausal = isCausal;
    }

    /// <summary>
    /// Boolean, true where a query may attend: [queries, keys] for a batch without padding, [batch, 1, queries, keys]
    /// with it; null when <see cref="IsCausal"/> or nothing is hidden.
    /// </summary>
    public Tensor? Mask { get; }

    /// <summary>Let scaled_dot_product_attention apply its own causal mask (top-left aligned, so only without a past).</summary>
    public bool IsCausal { get; }

    /// <summary>
    /// Queries sit at slots past..past+length-1 and keys at 0..past+length-1. Right-padded rows of a batch
    /// need nothing more: a real token's keys all come before its padding, which the causal mask already hides.
    /// </summary>
    public static AttentionMask Build(long past, long length, int? window, Device device)
    {
        bool windowBites = window is int w && past + length > w;
        if (!windowBites)
        {
            if (past == 0)
                return new AttentionMask(null, length > 1);
            if (length == 1)
                return new AttentionMask(null, false);
        }
        using var scope = NewDisposeScope();
        var query = arange(past, past + length, ScalarType.Int64, device).unsqueeze(1);
        var key = arange(0, past + length, ScalarType.Int64, device).unsqueeze(0);
        var allowed = key <= query;
        if (windowBites)
            allowed = allowed.logical_and(key > query - window!.Value);
        return new AttentionMask(allowed.DetachFromDisposeScope(), false);
    }

    /// <summary>
    /// For rows with their own positions and padding: query q of row r sees key k when the key is a real token
    /// (<paramref name="keyValid"/>) at a position not after the query's and, on sliding-window layers, within the
    /// last <c>window</c> positions. Positions [batch, queries] and [batch, keys]; the mask is [batch, 1, queries, keys].
    /// </summary>
    public static AttentionMask BuildFromPositions(Tensor queryPositions, Tensor keyPositions, Tensor keyValid, int? window)
    {
        using var scope = NewDisposeScope();
        var q = queryPositions.unsqueeze(2);
        var k = keyPositions.unsqueeze(1);
        var allowed = keyValid.unsqueeze(1).logical_and(k <= q);
        if (window is int w)
            allowed = allowed.logical_and(k > q - w);
        return new AttentionMask(allowed.unsqueeze(1).DetachFromDisposeScope(), false);
    }

    public void Dispose() => Mask?.Dispose();
}
