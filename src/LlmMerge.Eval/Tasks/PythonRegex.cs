using System.Text.RegularExpressions;
using LlmMerge.Core;

namespace LlmMerge.Eval.Tasks;

/// <summary>
/// A Python <c>re</c> pattern compiled for .NET: the syntax Python spells differently is rewritten (named groups
/// <c>(?P&lt;name&gt;...)</c> and <c>(?P=name)</c>, <c>\Z</c> for the very end), the rest is the same in both.
/// Python's findall is <see cref="FindAll"/>.
/// </summary>
public static class PythonRegex
{
    /// <summary>Compiles <paramref name="pattern"/>; a pattern that does not compile is refused naming <paramref name="where"/>.</summary>
    public static Regex Compile(string pattern, string where)
    {
        string dotnet = pattern
            .Replace("(?P<", "(?<", StringComparison.Ordinal)
            .Replace("\\Z", "\\z", StringComparison.Ordinal);
        dotnet = Regex.Replace(dotnet, @"\(\?P=(\w+)\)", @"\k<$1>");
        try
        {
            return new Regex(dotnet, RegexOptions.None, TimeSpan.FromSeconds(5));
        }
        catch (ArgumentException e)
        {
            throw new LlmMergeException($"{where}: the regex '{pattern}' does not compile: {e.Message}");
        }
    }

    /// <summary>
    /// Python's <c>re.findall</c>: each match's text when the pattern has no group, its group's text when it has
    /// one, and the tuple of its groups' texts (as a list) when it has several; a group that did not take part is "".
    /// </summary>
    public static List<object> FindAll(Regex regex, string text)
    {
        ArgumentNullException.ThrowIfNull(regex);
        int groups = regex.GetGroupNumbers().Length - 1;
        var found = new List<object>();
        foreach (Match m in regex.Matches(text))
        {
            if (groups == 0) found.Add(m.Value);
            else if (groups == 1) found.Add(m.Groups[1].Value);
            else found.Add(Enumerable.Range(1, groups).Select(g => m.Groups[g].Value).ToList());
        }

        return found;
    }
}
