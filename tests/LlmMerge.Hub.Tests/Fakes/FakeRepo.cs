using System.Security.Cryptography;
using System.Text;

namespace LlmMerge.Hub.Tests.Fakes;

/// <summary>A repository the fake Hub serves: one commit, its branches and files.</summary>
public sealed class FakeRepo(string id, RepoType type)
{
    /// <summary>ORG/NAME.</summary>
    public string Id { get; } = id;

    /// <summary>Model or dataset.</summary>
    public RepoType Type { get; } = type;

    /// <summary>The one commit of the repository.</summary>
    public string Commit { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));

    /// <summary>When set, API and resolve requests need <c>Authorization: Bearer</c> this token.</summary>
    public string? RequiredToken { get; set; }

    /// <summary>Names listed in the API's siblings without content (e.g. unsafe names for the traversal tests).</summary>
    public List<string> ExtraListedNames { get; } = [];

    /// <summary>The files, by repository path.</summary>
    public Dictionary<string, FakeFile> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds a file; LFS files are redirected to the CDN host and carry X-Linked-Etag.</summary>
    public FakeRepo Add(string name, byte[] content, bool lfs)
    {
        Files[name] = new FakeFile(content, lfs);
        return this;
    }

    /// <summary>Adds a small text file stored in git.</summary>
    public FakeRepo AddText(string name, string text) => Add(name, Encoding.UTF8.GetBytes(text), lfs: false);

    /// <summary>Adds an LFS file of <paramref name="size"/> deterministic pseudo-random bytes.</summary>
    public FakeRepo AddLfs(string name, int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return Add(name, bytes, lfs: true);
    }
}

/// <summary>A file's content and how the Hub stores it.</summary>
public sealed class FakeFile(byte[] content, bool lfs)
{
    /// <summary>The bytes.</summary>
    public byte[] Content { get; } = content;

    /// <summary>True when the file lives in LFS (served through the CDN redirect).</summary>
    public bool Lfs { get; } = lfs;

    /// <summary>The sha256 of the content, the LFS blob name.</summary>
    public string Sha256 { get; } = Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>The git blob id, the ETag of a small file: sha1 of "blob SIZE\0" and the content.</summary>
#pragma warning disable CA5350 // Git names blobs by SHA-1; this reproduces the Hub's ETag, it protects nothing.
    public string GitSha1 { get; } = Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {content.Length}\0"), .. content]));
#pragma warning restore CA5350

    /// <summary>The name its blob gets in the cache.</summary>
    public string Etag => Lfs ? Sha256 : GitSha1;
}
