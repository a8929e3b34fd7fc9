namespace LlmMerge.Hub;

/// <summary>What rehashing one sha256-named blob of the cache found.</summary>
/// <param name="RepoId">The repository whose <c>blobs/</c> folder holds it.</param>
/// <param name="RepoType">Model or dataset.</param>
/// <param name="BlobPath">The blob's path in the cache.</param>
/// <param name="Expected">Its name: the sha256 its bytes must have.</param>
/// <param name="Actual">The sha256 its bytes have.</param>
/// <param name="Size">Its size in bytes.</param>
/// <param name="Deleted">True when it did not match and was removed (<c>--delete</c>).</param>
public sealed record BlobVerification(string RepoId, RepoType RepoType, string BlobPath, string Expected, string Actual, long Size, bool Deleted)
{
    /// <summary>True when the bytes hash to the blob's name.</summary>
    public bool Matches => Actual == Expected;
}
