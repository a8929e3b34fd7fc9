namespace LlmMerge.Hub;

/// <summary>What the Hub's HEAD answer says about one file at a commit: the blob it is and how to check it.</summary>
/// <param name="Name">The file's path in the repository.</param>
/// <param name="Etag">Its blob name in the cache.</param>
/// <param name="Size">Its size, when the Hub told it.</param>
/// <param name="ExpectedSha256">The sha256 its bytes must have: the etag, whenever it is a sha256 (LFS files); null for small git files, named by their git sha1.</param>
/// <param name="Uri">The resolve address to GET it from (the Hub redirects LFS files to a CDN).</param>
internal sealed record RemoteFile(string Name, string Etag, long? Size, string? ExpectedSha256, Uri Uri);
