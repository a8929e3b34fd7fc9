namespace LlmMerge.Tokenizers.Pipeline;

/// <summary>An entry of tokenizer.json's added_tokens.</summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord, bool LStrip, bool RStrip, bool Normalized);

/// <summary>A stretch of input: either an added token's id, or text for the normalizer and model.</summary>
internal readonly record struct Segment(int? TokenId, string Text, int Start);

/// <summary>
/// Finds added tokens in text before anything else touches it, as Hugging Face's AddedVocabulary does: leftmost
/// match first, the longest token at that place, never split; lstrip/rstrip take the whitespace beside the token
/// with it, single_word refuses a match inside a word.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, List<(string Pattern, AddedToken Token)>> _byFirstChar = new();

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens, Func<string, string>? normalize = null)
    {
        foreach (AddedToken t in tokens)
        {
            // Normalized tokens are looked for in normalized text, so their own content is normalized the same way.
            string pattern = normalize is null ? t.Content : normalize(t.Content);
            if (pattern.Length == 0) continue;
            if (!_byFirstChar.TryGetValue(pattern[0], out var list)) _byFirstChar[pattern[0]] = list = [];
            list.Add((pattern, t));
        }

        foreach (var list in _byFirstChar.Values) list.Sort((a, b) => b.Pattern.Length.CompareTo(a.Pattern.Length));
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    public List<Segment> Split(string text, int baseOffset = 0)
    {
        var result = new List<Segment>();
        if (IsEmpty)
        {
            result.Add(new Segment(null, text, baseOffset));
            return result;
        }

        int textStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            if (!TryMatchAt(text, i, out string? pattern, out AddedToken? token))
            {
                i++;
                continue;
            }

            int start = i;
            int end = i + pattern!.Length;
            if (token!.LStrip)
            {
                while (start > textStart && char.IsWhiteSpace(text[start - 1])) start--;
            }

            if (token.RStrip)
            {
                while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            }

            if (start > textStart) result.Add(new Segment(null, text[textStart..start], baseOffset + textStart));
            result.Add(new Segment(token.Id, text[start..end], baseOffset + start));
            textStart = i = end;
        }

        if (textStart < text.Length || result.Count == 0) result.Add(new Segment(null, text[textStart..], baseOffset + textStart));
        return result;
    }

    private bool TryMatchAt(string text, int i, out string? pattern, out AddedToken? token)
    {
        pattern = null;
        token = null;
        if (!_byFirstChar.TryGetValue(text[i], out var candidates)) return false;
        foreach ((string p, AddedToken t) in candidates)
        {
            if (i + p.Length > text.Length || string.CompareOrdinal(text, i, p, 0, p.Length) != 0) continue;
            if (t.SingleWord && (IsWordChar(text, i - 1) || IsWordChar(text, i + p.Length))) continue;
            pattern = p;
            token = t;
            return true;
        }

        return false;
    }

    private static bool IsWordChar(string text, int i) => i >= 0 && i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_');
}
