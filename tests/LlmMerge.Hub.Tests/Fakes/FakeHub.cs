using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;

namespace LlmMerge.Hub.Tests.Fakes;

/// <summary>Plays the Hub's endpoints on loopback: the revision API, resolve (with a CDN redirect for LFS files) and Range requests.</summary>
/// <remarks>The Hub answers on 127.0.0.1 and the CDN on localhost, so a redirect changes host, as huggingface.co's does.</remarks>
public sealed class FakeHub : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(RepoType, string), FakeRepo> repos = new();
    private readonly LoopbackHttpServer server;

    /// <summary>Starts the fake Hub on a free loopback port.</summary>
    public FakeHub() => server = new LoopbackHttpServer(Handle);

    /// <summary>The Hub's address (HF_ENDPOINT).</summary>
    public Uri Endpoint => new($"http://127.0.0.1:{server.Port}");

    /// <summary>Every request received, in order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. server.Requests];

    /// <summary>Where the resolve address of an LFS file redirects to: the CDN host (the Hub's way) or a mirror's own origin.</summary>
    public LfsRedirect LfsRedirect { get; set; } = LfsRedirect.CrossOrigin;

    /// <summary>Rewrites a response before it is sent: the fault injection point of the tests.</summary>
    public Func<RecordedRequest, FakeResponse, FakeResponse>? Tamper { get; set; }

    /// <summary>Adds an empty repository.</summary>
    public FakeRepo AddRepo(string id, RepoType type = RepoType.Model) => repos[(type, id)] = new FakeRepo(id, type);

    /// <summary>A repository added before.</summary>
    public FakeRepo Repo(string id, RepoType type = RepoType.Model) => repos[(type, id)];

    /// <summary>Forgets the requests received so far.</summary>
    public void ClearRequests() => server.Requests.Clear();

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => server.DisposeAsync();

    private FakeResponse Handle(RecordedRequest request)
    {
        FakeResponse response = Route(request);
        return Tamper?.Invoke(request, response) ?? response;
    }

    private FakeResponse Route(RecordedRequest request)
    {
        string path = request.Path;
        if (path.StartsWith("/cdn/", StringComparison.Ordinal))
        {
            // Signed CDN addresses need no token; they are served under the other host name, or on the Hub's own origin
            // when it plays a mirror that keeps its blobs there.
            FakeFile? file = repos.Values.SelectMany(r => r.Files.Values).FirstOrDefault(f => f.Sha256 == path["/cdn/".Length..]);
            bool served = request.IsCdn ? LfsRedirect == LfsRedirect.CrossOrigin : LfsRedirect != LfsRedirect.CrossOrigin;
            return file is null || !served ? NotFound("EntryNotFound") : Serve(file, request, []);
        }

        if (path.StartsWith("/api/", StringComparison.Ordinal))
        {
            int at = path.LastIndexOf("/revision/", StringComparison.Ordinal);
            string[] head = path[..at].Split('/', 4);
            RepoType type = head[2] == "datasets" ? RepoType.Dataset : RepoType.Model;
            return Api(request, type, head[3], path[(at + "/revision/".Length)..]);
        }

        int resolve = path.IndexOf("/resolve/", StringComparison.Ordinal);
        if (resolve > 0)
        {
            string repoPart = path[1..resolve];
            RepoType type = repoPart.StartsWith("datasets/", StringComparison.Ordinal) ? RepoType.Dataset : RepoType.Model;
            string repoId = type == RepoType.Dataset ? repoPart["datasets/".Length..] : repoPart;
            string[] rest = path[(resolve + "/resolve/".Length)..].Split('/', 2);
            return Resolve(request, type, repoId, rest[0], rest.Length > 1 ? rest[1] : "");
        }

        return NotFound("RepoNotFound");
    }

    private FakeResponse Api(RecordedRequest request, RepoType type, string repoId, string revision)
    {
        if (Find(request, type, repoId, revision, out FakeRepo? repo) is { } refusal)
        {
            return refusal;
        }

        var body = new
        {
            id = repo!.Id,
            sha = repo.Commit,
            siblings = repo.Files.Keys.Concat(repo.ExtraListedNames).Select(n => new { rfilename = n }).ToArray(),
        };
        var response = new FakeResponse(200, JsonSerializer.SerializeToUtf8Bytes(body));
        response.Headers["Content-Type"] = "application/json";
        return response;
    }

    private FakeResponse Resolve(RecordedRequest request, RepoType type, string repoId, string revision, string fileName)
    {
        if (Find(request, type, repoId, revision, out FakeRepo? repo) is { } refusal)
        {
            return refusal;
        }

        if (!repo!.Files.TryGetValue(fileName, out FakeFile? file))
        {
            return NotFound("EntryNotFound");
        }

        (string, string)[] common = [("X-Repo-Commit", repo.Commit), ("ETag", $"\"{file.Etag}\"")];
        if (file.Lfs)
        {
            (string, string)[] linked = [("X-Linked-Etag", $"\"{file.Sha256}\""), ("X-Linked-Size", file.Content.Length.ToString(CultureInfo.InvariantCulture))];
            return LfsRedirect switch
            {
                LfsRedirect.CrossOrigin => FakeResponse.Empty(302, [.. common, .. linked, ("Location", $"http://localhost:{server.Port}/cdn/{file.Sha256}")]),
                LfsRedirect.SameOriginAbsolute => FakeResponse.Empty(302, [.. common, .. linked, ("Location", $"{Endpoint.ToString().TrimEnd('/')}/cdn/{file.Sha256}")]),
                // A mirror that answers with a path and none of the Hub's X-Linked headers.
                _ => FakeResponse.Empty(302, [.. common, ("Location", $"/cdn/{file.Sha256}")]),
            };
        }

        return Serve(file, request, common);
    }

    private FakeResponse? Find(RecordedRequest request, RepoType type, string repoId, string revision, out FakeRepo? repo)
    {
        if (!repos.TryGetValue((type, repoId), out repo))
        {
            return FakeResponse.Empty(401, ("X-Error-Code", "RepoNotFound"), ("X-Error-Message", "Repository not found"));
        }

        if (repo.RequiredToken is { } token && request.Header("Authorization") != $"Bearer {token}")
        {
            return FakeResponse.Empty(401, ("X-Error-Code", "RepoNotFound"), ("X-Error-Message", "Invalid username or password."));
        }

        return revision == "main" || revision == repo.Commit ? null : NotFound("RevisionNotFound");
    }

    // Whole body, or the rest after "Range: bytes=N-", as a CDN does.
    private static FakeResponse Serve(FakeFile file, RecordedRequest request, (string, string)[] headers)
    {
        byte[] content = file.Content;
        string? range = request.Header("Range");
        FakeResponse response;
        if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            long from = long.Parse(range["bytes=".Length..^1], CultureInfo.InvariantCulture);
            response = from >= content.Length
                ? FakeResponse.Empty(416, ("Content-Range", $"bytes */{content.Length}"))
                : new FakeResponse(206, content[(int)from..]) { Headers = { ["Content-Range"] = $"bytes {from}-{content.Length - 1}/{content.Length}" } };
        }
        else
        {
            response = new FakeResponse(200, content);
        }

        foreach ((string name, string value) in headers)
        {
            response.Headers[name] = value;
        }

        response.Headers["Accept-Ranges"] = "bytes";
        response.Headers["ETag"] = $"\"{file.Etag}\"";
        return response;
    }

    private static FakeResponse NotFound(string code) => FakeResponse.Empty(404, ("X-Error-Code", code));
}

/// <summary>How the fake Hub redirects the resolve address of an LFS file.</summary>
public enum LfsRedirect
{
    /// <summary>To the CDN host (localhost), with X-Linked-Etag and X-Linked-Size: huggingface.co's way.</summary>
    CrossOrigin,

    /// <summary>To <c>/cdn/SHA256</c> on the Hub's own origin as a relative Location, without X-Linked headers: a mirror or proxy.</summary>
    SameOriginRelative,

    /// <summary>To the Hub's own origin, written out in full, with X-Linked-Etag and X-Linked-Size.</summary>
    SameOriginAbsolute,
}
