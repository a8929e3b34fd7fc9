using System.Globalization;

namespace LlmMerge.Hub;

/// <summary>Writes fetch progress as one human-readable line per report, e.g. to standard error.</summary>
public sealed class FetchProgressWriter(TextWriter writer) : IProgress<FetchProgress>
{
    /// <inheritdoc/>
    public void Report(FetchProgress value)
    {
        string file = value.File is null ? "" : $"{value.File} {Size(value.FileBytes)}{(value.FileTotal is { } t ? "/" + Size(t) : "")}; ";
        string line = $"fetch: {file}total {Size(value.TotalBytes)}/{Size(value.TotalSize)}, files {value.FilesDone}/{value.FilesTotal}, {Size((long)value.BytesPerSecond)}/s";
        lock (writer)
        {
            writer.WriteLine(line);
        }
    }

    /// <summary>A byte count with a binary unit, e.g. <c>1.5 GiB</c>.</summary>
    public static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes} B" : value.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[unit];
    }
}
