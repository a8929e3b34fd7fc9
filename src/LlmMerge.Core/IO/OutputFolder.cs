namespace LlmMerge.Core.IO;

/// <summary>
/// Builds an output in a hidden sibling folder and moves it into place only when it is complete, so an
/// interrupted or failed merge never leaves something that looks like a finished model, and a previous
/// output stays as it was until the new one is whole.
/// </summary>
public sealed class OutputFolder : IDisposable
{
    private bool _committed;

    public string FinalPath { get; }

    public string WorkPath { get; }

    public OutputFolder(string finalPath)
    {
        FinalPath = Path.GetFullPath(finalPath.TrimEnd('/', '\\'));
        string parent = Path.GetDirectoryName(FinalPath) ?? ".";
        Directory.CreateDirectory(parent);
        WorkPath = Path.Combine(parent, $".{Path.GetFileName(FinalPath)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(WorkPath);
    }

    /// <summary>Replaces the final folder with the finished work folder (the old one is removed only after the swap).</summary>
    public void Commit()
    {
        string? old = null;
        if (Directory.Exists(FinalPath))
        {
            old = FinalPath + $".old-{Guid.NewGuid():N}";
            Directory.Move(FinalPath, old);
        }
        else if (File.Exists(FinalPath))
        {
            throw new LlmMergeException($"{FinalPath}: exists and is a file, not a folder; choose another output path");
        }
        Directory.Move(WorkPath, FinalPath);
        _committed = true;
        if (old is not null)
            Directory.Delete(old, recursive: true);
    }

    public void Dispose()
    {
        if (!_committed && Directory.Exists(WorkPath))
            Directory.Delete(WorkPath, recursive: true);
    }
}
