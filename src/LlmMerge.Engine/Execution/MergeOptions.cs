using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Engine.Execution;

/// <summary>How a merge runs, beside what the recipe says (mergekit's command-line options).</summary>
public sealed record MergeOptions
{
    /// <summary>Largest shard in bytes (mergekit's --out-shard-size).</summary>
    public long OutShardBytes { get; init; } = ShardedModelWriter.DefaultShardBytes;

    /// <summary>cpu, cuda or cuda:N.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Seed of the random methods (DARE); each tensor derives its own stream from it and its name.</summary>
    public ulong RandomSeed { get; init; }

    /// <summary>Copy the tokenizer files of the tokenizer source into the output.</summary>
    public bool CopyTokenizer { get; init; } = true;

    /// <summary>
    /// Folder of calibration statistics (Gram matrices, Fisher diagonals) kept between merges, keyed by model and
    /// calibration fingerprint; null keeps them in a temporary folder for this merge only.
    /// </summary>
    public string? CalibrationCache { get; init; }

    /// <summary>
    /// Compute every tensor as the engine did before its fused kernels: inputs loaded as float32 tensors, methods'
    /// libtorch code (or the earlier fused TIES path). Slower; kept as the reference the fused kernels are tested against.
    /// </summary>
    public bool ReferenceKernels { get; init; }
}

/// <summary>Where a running merge is: tensors and bytes done.</summary>
public sealed record MergeProgress(int TensorsDone, int TensorsTotal, long BytesRead, long BytesTotal, TimeSpan Elapsed, string Current);
