using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// Which keys each new query sees: every earlier position (causal) and, on sliding-window layers, only the last
/// <c>window</c> of them. Built once per forward pass and shared by the layers.
/// </summary>
public sealed class AttentionMask : IDisposable
{
    private AttentionMask(Tensor? mask, bool isCausal)
    {
        Mask = mask;
        IsCausal = isCausal;
    }

    /// <summary>Boolean [queries, keys], true where a query may attend; null when <see cref="IsCausal"/> or nothing is hidden.</summary>
    public Tensor? Mask { get; }

    /// <summary>Let scaled_dot_product_attention apply its own causal mask (top-left aligned, so only without a past).</summary>
    public bool IsCausal { get; }

    /// <summary>
    /// Queries sit at positions past..past+length-1 and keys at 0..past+length-1. Right-padded rows of a batch
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

    public void Dispose() => Mask?.Dispose();
}
