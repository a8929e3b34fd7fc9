using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace LlmMerge.Hub;

/// <summary>Python's <c>fnmatch.fnmatch</c> on POSIX, the glob dialect of huggingface_hub's allow/ignore patterns.</summary>
/// <remarks>Unlike a shell glob, <c>*</c> also crosses <c>/</c>, so <c>*.json</c> matches <c>sub/config.json</c>.</remarks>
internal static class Fnmatch
{
    private static readonly ConcurrentDictionary<string, Regex> Cache = new(StringComparer.Ordinal);

    /// <summary>True when <paramref name="name"/> matches <paramref name="pattern"/>, case-sensitively.</summary>
    public static bool IsMatch(string name, string pattern) =>
        Cache.GetOrAdd(pattern, p => new Regex(Translate(p), RegexOptions.CultureInvariant | RegexOptions.Singleline)).IsMatch(name);

    /// <summary>Translates a pattern as <c>fnmatch.translate</c> does: <c>*</c>, <c>?</c>, <c>[seq]</c>, <c>[!seq]</c>.</summary>
    internal static string Translate(string pattern)
    {
        var regex = new StringBuilder("^");
        int i = 0;
        while (i < pattern.Length)
        {
            char c = pattern[i++];
            switch (c)
            {
                case '*':
                    regex.Append(".*");
                    while (i < pattern.Length && pattern[i] == '*')
                    {
                        i++;
                    }

                    break;
                case '?':
                    regex.Append('.');
                    break;
                case '[':
                    i = AppendBracket(pattern, i, regex);
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        return regex.Append(@"\z").ToString();
    }

    // A bracket without its closing ']' is a literal '[', as in Python; '!' negates; a leading ']' is literal.
    private static int AppendBracket(string pattern, int start, StringBuilder regex)
    {
        int j = start;
        if (j < pattern.Length && pattern[j] == '!')
        {
            j++;
        }

        if (j < pattern.Length && pattern[j] == ']')
        {
            j++;
        }

        while (j < pattern.Length && pattern[j] != ']')
        {
            j++;
        }

        if (j >= pattern.Length)
        {
            regex.Append(@"\[");
            return start;
        }

        string body = pattern[start..j];
        var set = new StringBuilder("[");
        int k = 0;
        if (body.StartsWith('!'))
        {
            set.Append('^');
            k = 1;
        }

        for (; k < body.Length; k++)
        {
            char c = body[k];
            // Ranges keep their '-'; everything the .NET character class would read specially is escaped.
            set.Append(c is '\\' or '[' or ']' or '^' ? "\\" + c : c.ToString());
        }

        regex.Append(set).Append(']');
        return j + 1;
    }
}
