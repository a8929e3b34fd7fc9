namespace LlmMerge.Build.Charts;

/// <summary>What a scored model is in its graph; the charts mark each role by shape, pattern and label style, not colour alone.</summary>
internal enum ModelRole
{
    /// <summary>An Expert that some step merges (the base included): an ingredient.</summary>
    Expert,

    /// <summary>A MergeStep's output.</summary>
    Merge,

    /// <summary>An Expert no step reads, scored beside the merges to compare with (a multi-task model, say).</summary>
    Reference,
}
