using System.Net;
using System.Text.RegularExpressions;
using LlmMerge.Core;

namespace LlmMerge.Hub;

/// <summary>Turns the Hub's refusals into messages that say which repository, revision or file, and what to do.</summary>
internal static partial class HubErrors
{
    /// <summary>The error for a non-success answer to a request about <paramref name="what"/>.</summary>
    public static LlmMergeException ForStatus(HttpResponseMessage response, HubSettings settings, string repoId, string what)
    {
        string code = Header(response, "X-Error-Code") ?? "";
        string modelPage = $"{settings.Endpoint.ToString().TrimEnd('/')}/{repoId}";
        int status = (int)response.StatusCode;
        string message = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden when code == "GatedRepo" =>
                $"{what}: {repoId} is gated ({status}): accept its license at {modelPage} and set HF_TOKEN to a token of the account that accepted it.",
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden when settings.Token is null =>
                $"{what}: the Hub refused access ({status}): {repoId} is private or gated (or does not exist). Set HF_TOKEN (or log in with `hf auth login`) and accept the license on {modelPage}.",
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                $"{what}: the Hub refused the token ({status}): {repoId} is private or gated. Check that HF_TOKEN has read access and that its account accepted the license on {modelPage}.",
            HttpStatusCode.NotFound when code == "RevisionNotFound" =>
                $"{what}: the revision was not found in {repoId}: check --revision (a branch, tag or commit of the repository).",
            HttpStatusCode.NotFound when code == "EntryNotFound" =>
                $"{what}: the file was not found in {repoId} at that commit: check the file name and the revision.",
            HttpStatusCode.NotFound =>
                $"{what}: not found ({status}): check the repository id {repoId}, the revision and --repo-type.",
            _ => $"{what}: the Hub answered {status} {response.ReasonPhrase}{ServerMessage(response)}.",
        };
        return new LlmMergeException(Scrub(message, settings.Token));
    }

    /// <summary>The error after every attempt at a request failed on the connection or on server errors.</summary>
    public static HubUnavailableException GaveUp(HubSettings settings, string what, int attempts, string lastFailure, Exception? inner)
    {
        string message = Scrub($"{what}: gave up after {attempts} failed attempt{(attempts == 1 ? "" : "s")} in a row ({lastFailure}); check the network and {settings.Endpoint}, or set HF_HUB_OFFLINE=1 to use the cache.", settings.Token);
        return inner is null ? new HubUnavailableException(message) : new HubUnavailableException(message, inner);
    }

    /// <summary>Removes the token (and anything shaped like a Hub token) from text that may reach a log or a terminal.</summary>
    public static string Scrub(string text, string? token)
    {
        if (!string.IsNullOrEmpty(token))
        {
            text = text.Replace(token, "***", StringComparison.Ordinal);
        }

        return HubTokenPattern().Replace(text, "hf_***");
    }

    /// <summary>A single response header, or null.</summary>
    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out IEnumerable<string>? values) ? values.FirstOrDefault()
        : response.Content.Headers.TryGetValues(name, out values) ? values.FirstOrDefault()
        : null;

    private static string ServerMessage(HttpResponseMessage response)
    {
        string? text = Header(response, "X-Error-Message");
        if (string.IsNullOrWhiteSpace(text))
        {
            return "";
        }

        // One line, bounded: the message ends up on a single stderr line.
        text = string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries));
        return $" ({(text.Length > 200 ? text[..200] + "..." : text)})";
    }

    [GeneratedRegex("hf_[A-Za-z0-9]{8,}")]
    private static partial Regex HubTokenPattern();
}
