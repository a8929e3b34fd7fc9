namespace LlmMerge.Build;

/// <summary>How a graph item's metadata names map to mergekit's parameter names.</summary>
internal static class MetadataNames
{
    /// <summary>Item metadata name to mergekit's parameter name: Density → density, Int8Mask → int8_mask.</summary>
    public static string ParameterName(string metadata)
    {
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
