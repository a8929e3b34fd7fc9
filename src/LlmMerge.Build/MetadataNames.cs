namespace LlmMerge.Build;

/// <summary>How a graph item's metadata names map to mergekit's parameter names.</summary>
internal static class MetadataNames
{
    /// <summary>Item metadata name to mergekit's parameter name: Density → density, Int8Mask → int8_mask.</summary>
    public static string ParameterName(string metadata)
    {
        // MSBuild reserves Exclude as an item attribute (Include/Exclude/Remove), so it never reaches a task as
        // metadata: the FusionBench methods' `exclude` list is written ExcludeTensors.
        if (metadata == "ExcludeTensors")
            return "exclude";
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < metadata.Length; i++)
        {
            char c = metadata[i];
            if (char.IsUpper(c) && i > 0 && !char.IsUpper(metadata[i - 1]))
                sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }
}
