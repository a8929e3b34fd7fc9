namespace LlmMerge.Core.PyTorch;

/// <summary>One entry of a zip archive, located in the mapped file.</summary>
/// <param name="Name">Its name, e.g. <c>archive/data/0</c>.</param>
/// <param name="Method">The compression method: 0 stored, 8 deflate, ...</param>
/// <param name="Size">Its length in the archive (compressed; equal to its content's for a stored entry).</param>
/// <param name="DataOffset">Where its bytes start in the file, past the local header.</param>
internal sealed record ZipEntry(string Name, int Method, long Size, long DataOffset)
{
    public bool IsStored => Method == 0;
}
