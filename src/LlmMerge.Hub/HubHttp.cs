using System.Net;
using System.Net.Http.Headers;
using System.Reflection;

namespace LlmMerge.Hub;

/// <summary>The client's one HttpClient: redirects followed by hand so the token only ever goes to the Hub's own origin.</summary>
internal sealed class HubHttp : IDisposable
{
    private const int MaxRedirects = 10;
    private readonly HttpClient client;
    private readonly HubSettings settings;
    private readonly RetryPolicy retry;

    /// <summary>Creates the HTTP client for <paramref name="settings"/>.</summary>
    public HubHttp(HubSettings settings)
    {
        this.settings = settings;
        retry = new RetryPolicy(settings);
        var handler = new SocketsHttpHandler
        {
            // Automatic redirects would carry our headers wherever the server points; we decide per hop instead.
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = settings.ReadTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        // Downloads run for hours; stalls are caught per read (ReadTimeout) instead of a whole-request timeout.
        client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        string version = typeof(HubHttp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("llmmerge", version.Split('+')[0]));
    }

    /// <summary>An address on the Hub built from an already escaped path such as <c>api/models/ORG/NAME/revision/main</c>.</summary>
    public Uri HubUri(string escapedPath) => new($"{settings.Endpoint.ToString().TrimEnd('/')}/{escapedPath}");

    /// <summary>Sends a request and follows redirects; with <paramref name="relativeRedirectsOnly"/> a redirect whose Location names a host is returned as is.</summary>
    /// <remarks>The response's headers are read, its body is not: the caller streams it and disposes the response.</remarks>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, long rangeFrom, bool relativeRedirectsOnly, CancellationToken cancellationToken)
    {
        for (int hop = 0; hop <= MaxRedirects; hop++)
        {
            var request = new HttpRequestMessage(method, uri);
            // The sizes and hashes we check are of the stored bytes, so no content coding may change them.
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            if (rangeFrom > 0)
            {
                request.Headers.Range = new RangeHeaderValue(rangeFrom, null);
            }

            // The token goes to the Hub's origin only: a CDN or any other host a redirect names never sees it.
            if (settings.Token is not null && SameOrigin(uri, settings.Endpoint))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.Token);
            }

            HttpResponseMessage response = await SendOnceAsync(request, cancellationToken);
            if (!IsRedirect(response.StatusCode) || response.Headers.Location is null)
            {
                return response;
            }

            // huggingface_hub (ee0a4510, _httpx_follow_relative_redirects_with_backoff) follows only relative redirects
            // on a metadata HEAD: a renamed repository is followed, while any Location with a host (the CDN, or the
            // Hub's own origin written out) is where the metadata is read from.
            if (relativeRedirectsOnly && !IsRelative(response.Headers.Location))
            {
                return response;
            }

            var next = new Uri(uri, response.Headers.Location);

            response.Dispose();
            uri = next;
        }

        throw new HttpRequestException($"more than {MaxRedirects} redirects from {uri.GetLeftPart(UriPartial.Path)}", null, HttpStatusCode.LoopDetected);
    }

    /// <summary>Like <see cref="SendAsync"/>, but retries server errors and dropped connections with backoff.</summary>
    /// <remarks><paramref name="what"/> starts the error message when every attempt fails, so it names the repository or file.</remarks>
    public async Task<HttpResponseMessage> SendWithRetriesAsync(HttpMethod method, Uri uri, bool relativeRedirectsOnly, string what, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            string failure;
            Exception? error = null;
            try
            {
                HttpResponseMessage response = await SendAsync(method, uri, 0, relativeRedirectsOnly, cancellationToken);
                if (!RetryPolicy.IsTransient(response.StatusCode))
                {
                    return response;
                }

                failure = $"HTTP {(int)response.StatusCode}";
                response.Dispose();
            }
            catch (Exception e) when (RetryPolicy.IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                failure = e.Message;
                error = e;
            }

            if (attempt >= retry.MaxAttempts)
            {
                throw HubErrors.GaveUp(settings, what, attempt, failure, error);
            }

            await retry.DelayAsync(attempt, cancellationToken);
        }
    }

    /// <summary>Reads the next chunk of a body, treating a stall longer than the read timeout as a dropped connection.</summary>
    public async Task<int> ReadAsync(Stream body, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stall.CancelAfter(settings.ReadTimeout);
        try
        {
            return await body.ReadAsync(buffer, stall.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no data for {settings.ReadTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>True when both addresses share scheme, host and port.</summary>
    public static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase)
        && a.Port == b.Port;

    /// <summary>True for a Location without a host (<c>/cdn/...</c>, <c>../x</c>), which Python's urlparse gives an empty netloc.</summary>
    /// <remarks>A scheme-relative <c>//host/path</c> names a host, so it is not relative here, as in urlparse.</remarks>
    public static bool IsRelative(Uri location) =>
        !location.IsAbsoluteUri && !location.OriginalString.StartsWith("//", StringComparison.Ordinal);

    /// <inheritdoc/>
    public void Dispose() => client.Dispose();

    private async Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stall.CancelAfter(settings.ReadTimeout);
        try
        {
            return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stall.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer for {settings.ReadTimeout.TotalSeconds:0} s");
        }
    }

    private static bool IsRedirect(HttpStatusCode status) =>
        status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
            or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;
}
