namespace LlmMerge.Hub;

/// <summary>One file of a snapshot.</summary>
/// <param name="Path">Its path in the repository, with forward slashes.</param>
/// <param name="LocalPath">Its path in the snapshot folder (a symlink into <c>blobs/</c>).</param>
/// <param name="Etag">The blob's name: the LFS sha256 for large files, the git blob id for small ones.</param>
/// <param name="Size">Its size in bytes.</param>
/// <param name="Downloaded">True when this fetch transferred its bytes; false when the cache already held them.</param>
public sealed record FetchedFile(string Path, string LocalPath, string Etag, long Size, bool Downloaded)
{
    /// <summary>The verified sha256 of the content when the file is stored in LFS, else null.</summary>
    public string? Sha256 => HubNames.IsSha256(Etag) ? Etag : null;
}
