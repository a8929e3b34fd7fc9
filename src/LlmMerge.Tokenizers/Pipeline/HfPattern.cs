using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmMerge.Tokenizers.Pipeline;

/// <summary>A tokenizer.json pattern: {"String": literal} or {"Regex": expression}.</summary>
internal sealed class HfPattern
{
    private readonly string? _literal;
    private readonly Regex? _regex;

    private HfPattern(string? literal, Regex? regex)
    {
        _literal = literal;
        _regex = regex;
    }

    public static HfPattern Parse(JsonFile file, JsonElement owner, string where)
    {
        JsonElement pattern = JsonFile.Get(owner, "pattern") ?? throw file.Error($"{where}.pattern is missing.");
        if (pattern.ValueKind == JsonValueKind.String)
        {
            return new HfPattern(pattern.GetString(), null);
        }

        if (file.GetString(pattern, "String", where + ".pattern") is string literal)
        {
            return new HfPattern(literal, null);
        }

        if (file.GetString(pattern, "Regex", where + ".pattern") is string expression)
        {
            try
            {
                // Hugging Face compiles these with Oniguruma; .NET's engine accepts the patterns the published
                // tokenizers use (\p{L}, (?i:...), lookahead). Compiled because every word of every prompt passes here.
                return new HfPattern(null, new Regex(expression, RegexOptions.Compiled | RegexOptions.CultureInvariant));
            }
            catch (ArgumentException ex)
            {
                throw file.Error($"{where}.pattern.Regex '{expression}' is not a regular expression .NET can compile ({ex.Message}).");
            }
        }

        throw file.Error($"{where}.pattern must have \"String\" or \"Regex\".");
    }

    /// <summary>Non-empty matches, left to right, as (start, length).</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        var result = new List<(int, int)>();
        if (_literal is not null)
        {
            if (_literal.Length == 0) return result;
            int i = 0;
            while ((i = text.IndexOf(_literal, i, StringComparison.Ordinal)) >= 0)
            {
                result.Add((i, _literal.Length));
                i += _literal.Length;
            }

            return result;
        }

        for (Match m = _regex!.Match(text); m.Success; m = m.NextMatch())
        {
            if (m.Length > 0) result.Add((m.Index, m.Length));
        }

        return result;
    }

    public string Replace(string text, string content) =>
        _literal is not null ? (_literal.Length == 0 ? text : text.Replace(_literal, content, StringComparison.Ordinal)) : _regex!.Replace(text, content);
}
