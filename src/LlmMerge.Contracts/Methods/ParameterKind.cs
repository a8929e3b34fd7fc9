namespace LlmMerge.Contracts.Methods;

/// <summary>What values a merge parameter takes, as a recipe or a graph item writes them.</summary>
public enum ParameterKind
{
    /// <summary>A number, or a list of numbers interpolated over the layers (mergekit's gradients).</summary>
    Number,

    /// <summary>true or false.</summary>
    Boolean,
}
