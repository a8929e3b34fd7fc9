using System.Security.Cryptography;
using System.Text;
using LlmMerge.Core;
using LlmMerge.Eval.Scoring;
using LlmMerge.Eval.Tasks;
using LlmMerge.Tokenizers;

namespace LlmMerge.Engine.Calibration;

/// <summary>
/// The rows a model's calibration statistics are computed on: from each task file, <c>rows</c> rows drawn by a
/// seeded shuffle (all of them, shuffled, where the file has fewer; FusionBench takes the first batches of a
/// shuffled loader), encoded as lm-eval encodes a scored request for the right choice, and cut from the left to the
/// model's length. The fingerprint hashes the token ids themselves, so a changed task file or tokenizer changes it.
/// </summary>
public sealed class CalibrationRows
{
    private CalibrationRows(IReadOnlyList<CalibrationRow> rows, string fingerprint, string description)
    {
        Rows = rows;
        Fingerprint = fingerprint;
        Description = description;
    }

    public IReadOnlyList<CalibrationRow> Rows { get; }

    /// <summary>sha256 (hex) of every row's tokens, in order.</summary>
    public string Fingerprint { get; }

    /// <summary>Which files and how many rows, for messages.</summary>
    public string Description { get; }

    /// <summary>Loads, draws and encodes the rows of <paramref name="taskFiles"/> with <paramref name="tokenizer"/>.</summary>
    public static CalibrationRows Load(IReadOnlyList<string> taskFiles, int rowsPerTask, ulong seed, HfTokenizer tokenizer, int maxLength)
    {
        var rows = new List<CalibrationRow>();
        var parts = new List<string>();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string file in taskFiles)
        {
            if (!File.Exists(file))
                throw new LlmMergeException($"{file}: calibration task file not found");
            var task = TaskLoader.Load(file);
            if (task.Rows.Count == 0)
                throw new LlmMergeException($"{file}: the calibration task has no rows");
            var order = Shuffle(task.Rows.Count, seed);
            int take = Math.Min(rowsPerTask, order.Length);
            for (int i = 0; i < take; i++)
            {
                var row = Encode(task.Rows[order[i]], task.TargetDelimiter, tokenizer, maxLength);
                rows.Add(row);
                hash.AppendData(Encoding.UTF8.GetBytes($"{row.Context.Count}:{string.Join(',', row.Context)}|{row.Target.Count}:{string.Join(',', row.Target)};"));
            }
            parts.Add($"{Path.GetFileName(file)} ({take} rows)");
        }
        return new CalibrationRows(rows, Convert.ToHexStringLower(hash.GetHashAndReset()), string.Join(", ", parts));
    }

    private static CalibrationRow Encode(EvalRow row, string delimiter, HfTokenizer tokenizer, int maxLength)
    {
        string? target = row.Target is int t && t >= 0 && t < row.Choices.Count ? delimiter + row.Choices[t]
            : row.Kind == RowKind.Generation && !string.IsNullOrEmpty(row.TargetText) ? delimiter + row.TargetText
            : null;
        IReadOnlyList<int> context, continuation;
        if (target is null)
        {
            context = tokenizer.Encode(row.Context, addSpecialTokens: true);
            continuation = [];
        }
        else
        {
            (context, continuation) = LmEvalEncoding.EncodePair(tokenizer, row.Context, target);
        }
        if (context.Count + continuation.Count > maxLength)
        {
            // As scoring does: the context loses its oldest tokens; a target alone too long keeps its last ones.
            int keep = Math.Max(0, maxLength - continuation.Count);
            context = context.Skip(context.Count - keep).ToArray();
            if (continuation.Count > maxLength)
                continuation = continuation.Skip(continuation.Count - maxLength).ToArray();
        }
        if (context.Count == 0 && continuation.Count == 0)
            throw new LlmMergeException($"{row.Source}: row id {row.Id} encodes to no tokens; it cannot calibrate anything");
        return new CalibrationRow(context, continuation);
    }

    /// <summary>Fisher-Yates over 0..n-1 driven by SplitMix64, so the draw is the same on every platform and runtime.</summary>
    internal static int[] Shuffle(int n, ulong seed)
    {
        var order = Enumerable.Range(0, n).ToArray();
        ulong state = seed;
        for (int i = n - 1; i > 0; i--)
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            int j = (int)(z % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
