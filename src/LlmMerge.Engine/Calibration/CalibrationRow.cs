namespace LlmMerge.Engine.Calibration;

/// <summary>
/// One calibration row as token ids: the context, and the target's tokens after it (the right choice with lm-eval's
/// delimiter, or a generation row's reference; empty for an unlabeled row, which only Gram statistics read).
/// </summary>
public sealed record CalibrationRow(IReadOnlyList<int> Context, IReadOnlyList<int> Target)
{
    /// <summary>Context then target: the sequence the model reads.</summary>
    public int[] Tokens => [.. Context, .. Target];
}
