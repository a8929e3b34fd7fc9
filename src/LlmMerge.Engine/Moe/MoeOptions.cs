namespace LlmMerge.Engine.Moe;

/// <summary>How <c>llmmerge moe</c> runs: shards, device for the gate computation, the seed of its random draws.</summary>
public sealed record MoeOptions
{
    /// <summary>
    /// PyTorch's default CPU seed (default_rng_seed_val): an unseeded mergekit-moe run draws its random gates and noise
    /// from it, so the same default here reproduces them.
    /// </summary>
    public const ulong TorchDefaultSeed = 67280421310721;

    public long OutShardBytes { get; init; } = Core.SafeTensors.ShardedModelWriter.DefaultShardBytes;

    /// <summary>Where the base runs to compute hidden-state gates (cpu, cuda, cuda:N); tensors are copied on the CPU.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Seeds the one generator random gates and expert noise are drawn from (mergekit's --random-seed).</summary>
    public ulong RandomSeed { get; init; } = TorchDefaultSeed;

    public bool CopyTokenizer { get; init; } = true;

    /// <summary>mergekit's --i-understand-this-is-not-useful-without-training: allow every expert to be the same model.</summary>
    public bool AllowAllSame { get; init; }
}

/// <summary>What a mixture run did.</summary>
public sealed record MoeResult(string Architecture, int Tensors, long InputBytes, long OutputBytes, TimeSpan GateTime, TimeSpan WriteTime);
