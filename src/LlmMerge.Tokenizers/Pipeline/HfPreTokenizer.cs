using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmMerge.Tokenizers.Pipeline;

/// <summary>A piece of text on its way to the model; AtStart marks a piece that begins the whole input (Metaspace's "first").</summary>
internal readonly record struct Piece(string Text, bool AtStart);

/// <summary>A tokenizer.json pre-tokenizer: splits (and for ByteLevel, re-alphabets) pieces before the BPE model sees them.</summary>
internal abstract class HfPreTokenizer
{
    /// <summary>GPT-2's split regex, which ByteLevel applies when use_regex is true.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly Regex Gpt2Regex = new(Gpt2Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    public abstract List<Piece> PreTokenize(List<Piece> pieces);

    public static HfPreTokenizer? Parse(JsonFile file, JsonElement? json, string where = "pre_tokenizer")
    {
        if (json is null) return null;
        JsonElement p = json.Value;
        string type = file.RequireString(p, "type", where);
        switch (type)
        {
            case "Sequence":
                JsonElement list = JsonFile.Get(p, "pretokenizers") ?? throw file.Error($"{where}.pretokenizers is missing.");
                var parts = new List<HfPreTokenizer>();
                int i = 0;
                foreach (JsonElement child in list.EnumerateArray())
                {
                    if (Parse(file, child, $"{where}.pretokenizers[{i++}]") is HfPreTokenizer c) parts.Add(c);
                }

                return new SequencePreTokenizer(parts);
            case "ByteLevel":
                return new ByteLevelPreTokenizer(file.GetBool(p, "add_prefix_space", where) ?? true, file.GetBool(p, "use_regex", where) ?? true);
            case "Split":
                if (file.GetBool(p, "invert", where) == true) throw file.Error($"{where}: Split with invert=true is not supported.");
                string behavior = file.GetString(p, "behavior", where) ?? "Isolated";
                if (behavior is not ("Isolated" or "Removed" or "MergedWithPrevious" or "MergedWithNext" or "Contiguous"))
                    throw file.Error($"{where}: Split behavior '{behavior}' is not supported (supported: Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous).");
                HfPattern pattern = HfPattern.Parse(file, p, where);
                return new SplitPreTokenizer(t => pattern.Matches(t), behavior);
            case "Metaspace":
                return new MetaspacePreTokenizer(MetaspaceSettings.Parse(file, p, where), file.GetBool(p, "split", where) ?? true);
            case "Digits":
                bool individual = file.GetBool(p, "individual_digits", where) ?? false;
                return new SplitPreTokenizer(DigitMatches, individual ? "Isolated" : "Contiguous");
            default:
                throw file.Error($"{where} type '{type}' is not supported (supported: ByteLevel, Split, Sequence, Metaspace, Digits).");
        }
    }

    private static List<(int, int)> DigitMatches(string text)
    {
        var result = new List<(int, int)>();
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsDigit(text[i])) result.Add((i, 1));
        }

        return result;
    }

    /// <summary>Cuts a piece at the given matches the way Hugging Face's SplitDelimiterBehavior does.</summary>
    internal static List<Piece> SplitPiece(Piece piece, List<(int Start, int Length)> matches, string behavior)
    {
        string text = piece.Text;
        var spans = new List<(int Start, int End, bool IsMatch)>();
        int pos = 0;
        foreach ((int start, int length) in matches)
        {
            if (start > pos) spans.Add((pos, start, false));
            spans.Add((start, start + length, true));
            pos = start + length;
        }

        if (pos < text.Length) spans.Add((pos, text.Length, false));

        var merged = new List<(int Start, int End, bool IsMatch)>();
        switch (behavior)
        {
            case "Isolated":
                merged = spans;
                break;
            case "Removed":
                merged = spans.Where(s => !s.IsMatch).ToList();
                break;
            case "MergedWithPrevious":
            {
                bool previousMatch = false;
                foreach (var s in spans)
                {
                    if (s.IsMatch && !previousMatch && merged.Count > 0) merged[^1] = (merged[^1].Start, s.End, true);
                    else merged.Add(s);
                    previousMatch = s.IsMatch;
                }

                break;
            }

            case "MergedWithNext":
            {
                bool previousMatch = false;
                for (int i = spans.Count - 1; i >= 0; i--)
                {
                    var s = spans[i];
                    if (s.IsMatch && !previousMatch && merged.Count > 0) merged[^1] = (s.Start, merged[^1].End, true);
                    else merged.Add(s);
                    previousMatch = s.IsMatch;
                }

                merged.Reverse();
                break;
            }

            case "Contiguous":
            {
                bool previousMatch = false;
                foreach (var s in spans)
                {
                    if (s.IsMatch == previousMatch && merged.Count > 0) merged[^1] = (merged[^1].Start, s.End, s.IsMatch);
                    else merged.Add(s);
                    previousMatch = s.IsMatch;
                }

                break;
            }
        }

        var result = new List<Piece>(merged.Count);
        foreach (var s in merged)
        {
            if (s.End > s.Start) result.Add(new Piece(text[s.Start..s.End], piece.AtStart && s.Start == 0));
        }

        return result;
    }

    private sealed class SequencePreTokenizer(List<HfPreTokenizer> parts) : HfPreTokenizer
    {
        public override List<Piece> PreTokenize(List<Piece> pieces)
        {
            foreach (HfPreTokenizer p in parts) pieces = p.PreTokenize(pieces);
            return pieces;
        }
    }

    private sealed class SplitPreTokenizer(Func<string, List<(int, int)>> matcher, string behavior) : HfPreTokenizer
    {
        public override List<Piece> PreTokenize(List<Piece> pieces)
        {
            var result = new List<Piece>();
            foreach (Piece piece in pieces) result.AddRange(SplitPiece(piece, matcher(piece.Text), behavior));
            return result;
        }
    }

    private sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : HfPreTokenizer
    {
        public override List<Piece> PreTokenize(List<Piece> pieces)
        {
            var result = new List<Piece>();
            foreach (Piece original in pieces)
            {
                Piece piece = original;
                if (addPrefixSpace && !piece.Text.StartsWith(' ')) piece = piece with { Text = " " + piece.Text };
                if (useRegex)
                {
                    var matches = new List<(int, int)>();
                    for (Match m = Gpt2Regex.Match(piece.Text); m.Success; m = m.NextMatch())
                    {
                        if (m.Length > 0) matches.Add((m.Index, m.Length));
                    }

                    foreach (Piece p in SplitPiece(piece, matches, "Isolated")) result.Add(p with { Text = ByteLevelMapping.Encode(p.Text) });
                }
                else
                {
                    result.Add(piece with { Text = ByteLevelMapping.Encode(piece.Text) });
                }
            }

            return result;
        }
    }

    private sealed class MetaspacePreTokenizer(MetaspaceSettings settings, bool split) : HfPreTokenizer
    {
        public override List<Piece> PreTokenize(List<Piece> pieces)
        {
            var result = new List<Piece>();
            foreach (Piece piece in pieces)
            {
                string text = piece.Text.Replace(' ', settings.Replacement);
                bool prepend = settings.PrependScheme switch
                {
                    "always" => true,
                    "first" => piece.AtStart,
                    _ => false,
                };
                if (prepend && !text.StartsWith(settings.Replacement)) text = settings.Replacement + text;
                var replaced = new Piece(text, piece.AtStart);
                if (!split)
                {
                    result.Add(replaced);
                    continue;
                }

                var matches = new List<(int, int)>();
                for (int i = 0; i < text.Length; i++)
                {
                    if (text[i] == settings.Replacement) matches.Add((i, 1));
                }

                result.AddRange(SplitPiece(replaced, matches, "MergedWithNext"));
            }

            return result;
        }
    }
}

/// <summary>The Metaspace settings shared by its pre-tokenizer and decoder, in both the old (add_prefix_space) and new (prepend_scheme) forms.</summary>
internal sealed record MetaspaceSettings(char Replacement, string PrependScheme)
{
    public static MetaspaceSettings Parse(JsonFile file, JsonElement p, string where)
    {
        string replacement = file.GetString(p, "replacement", where) ?? "▁";
        if (replacement.Length != 1) throw file.Error($"{where}.replacement must be one character, found '{replacement}'.");
        string? scheme = file.GetString(p, "prepend_scheme", where);
        if (scheme is null)
        {
            // Files written before tokenizers 0.14 carry add_prefix_space instead; true meant "always".
            scheme = file.GetBool(p, "add_prefix_space", where) == false ? "never" : "always";
        }

        if (scheme is not ("first" or "always" or "never"))
            throw file.Error($"{where}.prepend_scheme '{scheme}' is not one of first, always, never.");
        return new MetaspaceSettings(replacement[0], scheme);
    }
}
