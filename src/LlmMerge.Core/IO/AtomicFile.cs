using System.Text;

namespace LlmMerge.Core.IO;

/// <summary>
/// A file written beside its destination and renamed over it when complete, so a reader (or an incremental build
/// checking timestamps) never sees half a result; an abandoned write leaves the destination as it was.
/// </summary>
public sealed class AtomicFile : IDisposable
{
    private readonly string _path;
    private readonly string _temp;
    private bool _committed;

    /// <summary>Starts writing <paramref name="path"/>; its folder is created if missing.</summary>
    public AtomicFile(string path)
    {
        _path = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _temp = Path.Combine(Path.GetDirectoryName(_path)!, $".{Path.GetFileName(_path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        Writer = new StreamWriter(_temp, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { NewLine = "\n" };
    }

    /// <summary>The text written so far goes here.</summary>
    public StreamWriter Writer { get; }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> in one step.</summary>
    public static void WriteAllText(string path, string text)
    {
        using var file = new AtomicFile(path);
        file.Writer.Write(text);
        file.Commit();
    }

    /// <summary>Flushes and renames the file into place.</summary>
    public void Commit()
    {
        Writer.Flush();
        Writer.Dispose();
        File.Move(_temp, _path, overwrite: true);
        _committed = true;
    }

    /// <summary>Drops the temporary file unless <see cref="Commit"/> ran.</summary>
    public void Dispose()
    {
        if (_committed) return;
        Writer.Dispose();
        try { File.Delete(_temp); }
        catch (IOException) { }
    }
}
