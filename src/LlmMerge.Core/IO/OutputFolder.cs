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

    /// <summary>
    /// Replaces the final folder with the finished work folder. Where a folder is already there, the two are swapped
    /// in one atomic rename (Linux's RENAME_EXCHANGE), so a reader never finds the path missing and two processes
    /// writing the same output (two builds of one graph) both succeed; the old folder is removed after the swap.
    /// </summary>
    public void Commit()
    {
        if (File.Exists(FinalPath))
            throw new LlmMergeException($"{FinalPath}: exists and is a file, not a folder; choose another output path");
        for (int attempt = 0; ; attempt++)
        {
            if (!Directory.Exists(FinalPath))
            {
                try
                {
                    Directory.Move(WorkPath, FinalPath);
                    _committed = true;
                    return;
                }
                catch (IOException) when (Directory.Exists(FinalPath) && attempt < 10)
                {
                    continue; // another process put its folder there first: swap with it instead
                }
            }
            if (OperatingSystem.IsLinux() && Exchange(WorkPath, FinalPath))
            {
                _committed = true;
                Directory.Delete(WorkPath, recursive: true); // now the previous output
                return;
            }
            string old = FinalPath + $".old-{Guid.NewGuid():N}";
            try
            {
                Directory.Move(FinalPath, old);
            }
            catch (DirectoryNotFoundException) when (attempt < 10)
            {
                continue;
            }
            Directory.Move(WorkPath, FinalPath);
            _committed = true;
            Directory.Delete(old, recursive: true);
            return;
        }
    }

    private const int AtFdCwd = -100;
    private const uint RenameExchange = 2;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, EntryPoint = "renameat2", CharSet = System.Runtime.InteropServices.CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int RenameAt2(int oldDirFd, [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string oldPath, int newDirFd, [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string newPath, uint flags);

    private static bool Exchange(string a, string b)
    {
        try
        {
            return RenameAt2(AtFdCwd, a, AtFdCwd, b, RenameExchange) == 0;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false; // an older C library: fall back to move-aside-then-move
        }
    }

    public void Dispose()
    {
        if (!_committed && Directory.Exists(WorkPath))
            Directory.Delete(WorkPath, recursive: true);
    }
}
