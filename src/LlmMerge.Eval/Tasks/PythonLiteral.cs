using System.Globalization;
using System.Text;

namespace LlmMerge.Eval.Tasks;

/// <summary>
/// Python literals as <c>ast.literal_eval</c> reads them, for the competition's <c>answer_choices</c> and for
/// lm-eval's rendered <c>doc_to_choice</c>: strings in single or double quotes (with escapes, r/u prefixes and
/// adjacent-literal concatenation), integers, floats, True/False/None, lists, tuples and dicts.
/// Values come back as string, long, double, bool, null, <see cref="List{T}"/> of object? and
/// <see cref="Dictionary{TKey, TValue}"/> of string to object?.
/// </summary>
public static class PythonLiteral
{
    /// <summary>Parses <paramref name="text"/>; throws <see cref="FormatException"/> with the position of the problem.</summary>
    public static object? Parse(string text)
    {
        var p = new Parser(text);
        p.SkipSpace();
        object? value = p.Value();
        p.SkipSpace();
        if (!p.AtEnd)
            throw p.Error("unexpected text after the value");
        return value;
    }

    /// <summary>Parses a list of strings (a list or tuple literal whose items are all strings).</summary>
    public static List<string> ParseStringList(string text)
    {
        if (Parse(text) is not List<object?> items)
            throw new FormatException("expected a list literal such as ['A', 'B']");
        var result = new List<string>(items.Count);
        for (int i = 0; i < items.Count; i++)
        {
            result.Add(items[i] as string ?? throw new FormatException($"item {i} of the list is not a string"));
        }

        return result;
    }

    /// <summary>The value as Python's <c>str()</c> prints it (strings as they are, lists with <c>repr</c> items), as Jinja renders it.</summary>
    public static string ToStr(object? value) => value switch
    {
        string s => s,
        _ => Repr(value),
    };

    /// <summary>The value as Python's <c>repr()</c> prints it, so <see cref="Parse"/> reads it back.</summary>
    public static string Repr(object? value) => value switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        string s => ReprString(s),
        long or int or short or byte or sbyte or uint or ushort or ulong => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        double d => ReprFloat(d),
        float f => ReprFloat(f),
        decimal m => m.ToString(CultureInfo.InvariantCulture),
        IDictionary<string, object?> dict => "{" + string.Join(", ", dict.Select(kv => ReprString(kv.Key) + ": " + Repr(kv.Value))) + "}",
        System.Collections.IEnumerable list => "[" + string.Join(", ", list.Cast<object?>().Select(Repr)) + "]",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "None",
    };

    private static string ReprFloat(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') ? s.Replace("E", "e") : s + ".0";
    }

    private static string ReprString(string s)
    {
        // Python prefers single quotes and switches to double quotes only when the text has ' and no ".
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2).Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }

        return sb.Append(quote).ToString();
    }

    private sealed class Parser(string text)
    {
        private int _pos;

        public bool AtEnd => _pos >= text.Length;

        public FormatException Error(string what) =>
            new($"{what} at character {_pos + 1} of {Preview()}");

        private string Preview() => text.Length <= 60 ? text : text[..57] + "...";

        public void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        public object? Value()
        {
            if (AtEnd) throw Error("a value is missing");
            char c = text[_pos];
            switch (c)
            {
                case '[': return Sequence('[', ']');
                case '(': return Sequence('(', ')');
                case '{': return Dict();
                case '\'' or '"': return Strings();
            }

            if ((c is 'r' or 'R' or 'u' or 'U') && _pos + 1 < text.Length && text[_pos + 1] is '\'' or '"')
                return Strings();
            if (char.IsDigit(c) || c is '-' or '+' or '.')
                return Number();
            if (char.IsLetter(c) || c == '_')
            {
                int start = _pos;
                while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] == '_')) _pos++;
                string word = text[start.._pos];
                return word switch
                {
                    "True" => true,
                    "False" => false,
                    "None" => null,
                    _ => throw new FormatException($"'{word}' is not a literal (only strings, numbers, True, False, None, lists, tuples and dicts are) in {Preview()}"),
                };
            }

            throw Error($"unexpected '{c}'");
        }

        private List<object?> Sequence(char open, char close)
        {
            _pos++;
            var items = new List<object?>();
            SkipSpace();
            while (true)
            {
                if (AtEnd) throw Error($"the {(open == '[' ? "list" : "tuple")} is never closed (missing '{close}')");
                if (text[_pos] == close) { _pos++; return items; }
                items.Add(Value());
                SkipSpace();
                if (AtEnd) throw Error($"the {(open == '[' ? "list" : "tuple")} is never closed (missing '{close}')");
                if (text[_pos] == ',') { _pos++; SkipSpace(); continue; }
                if (text[_pos] != close) throw Error($"expected ',' or '{close}'");
            }
        }

        private Dictionary<string, object?> Dict()
        {
            _pos++;
            var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
            SkipSpace();
            while (true)
            {
                if (AtEnd) throw Error("the dict is never closed (missing '}')");
                if (text[_pos] == '}') { _pos++; return dict; }
                string key = ToStr(Value());
                SkipSpace();
                if (AtEnd || text[_pos] != ':') throw Error("expected ':' after a dict key");
                _pos++;
                SkipSpace();
                dict[key] = Value();
                SkipSpace();
                if (AtEnd) throw Error("the dict is never closed (missing '}')");
                if (text[_pos] == ',') { _pos++; SkipSpace(); continue; }
                if (text[_pos] != '}') throw Error("expected ',' or '}'");
            }
        }

        private object Number()
        {
            int start = _pos;
            if (text[_pos] is '-' or '+') _pos++;
            while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] is '.' or '_' || (text[_pos] is '-' or '+' && text[_pos - 1] is 'e' or 'E'))) _pos++;
            string s = text[start.._pos].Replace("_", "");
            if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
            if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
            _pos = start;
            throw Error($"'{s}' is not a number");
        }

        private string Strings()
        {
            // Adjacent literals concatenate, as in Python: 'a' "b" is 'ab'.
            var sb = new StringBuilder();
            do
            {
                sb.Append(OneString());
                int save = _pos;
                SkipSpace();
                bool more = !AtEnd && (text[_pos] is '\'' or '"' || ((text[_pos] is 'r' or 'R' or 'u' or 'U') && _pos + 1 < text.Length && text[_pos + 1] is '\'' or '"'));
                if (!more) { _pos = save; break; }
            }
            while (true);
            return sb.ToString();
        }

        private string OneString()
        {
            bool raw = false;
            if (text[_pos] is 'r' or 'R') { raw = true; _pos++; }
            else if (text[_pos] is 'u' or 'U') _pos++;
            char quote = text[_pos];
            bool triple = _pos + 2 < text.Length && text[_pos + 1] == quote && text[_pos + 2] == quote;
            int openAt = _pos;
            _pos += triple ? 3 : 1;
            var sb = new StringBuilder();
            while (true)
            {
                if (AtEnd)
                {
                    _pos = openAt;
                    throw Error("a string is never closed");
                }

                char c = text[_pos];
                if (c == quote && (!triple || (_pos + 2 < text.Length && text[_pos + 1] == quote && text[_pos + 2] == quote)))
                {
                    _pos += triple ? 3 : 1;
                    return sb.ToString();
                }

                if (c is '\n' && !triple) throw Error("a line break inside a single-quoted string");
                if (c == '\\')
                {
                    if (_pos + 1 >= text.Length) { _pos = openAt; throw Error("a string is never closed"); }
                    if (raw)
                    {
                        // A raw string keeps the backslash, and an escaped quote does not end it.
                        sb.Append(c).Append(text[_pos + 1]);
                        _pos += 2;
                        continue;
                    }

                    _pos++;
                    Escape(sb);
                    continue;
                }

                sb.Append(c);
                _pos++;
            }
        }

        private void Escape(StringBuilder sb)
        {
            char e = text[_pos++];
            switch (e)
            {
                case '\n': break; // a backslash before a line break continues the line
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case 'x': sb.Append((char)Hex(2)); break;
                case 'u': sb.Append((char)Hex(4)); break;
                case 'U': sb.Append(char.ConvertFromUtf32(Hex(8))); break;
                case >= '0' and <= '7':
                {
                    int v = e - '0';
                    for (int k = 0; k < 2 && _pos < text.Length && text[_pos] is >= '0' and <= '7'; k++) v = (v * 8) + (text[_pos++] - '0');
                    sb.Append((char)v);
                    break;
                }

                default:
                    // Python keeps unknown escapes as they are (backslash included).
                    sb.Append('\\').Append(e);
                    break;
            }
        }

        private int Hex(int digits)
        {
            if (_pos + digits > text.Length || !int.TryParse(text.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v))
                throw Error($"a \\x, \\u or \\U escape needs {digits} hex digits");
            _pos += digits;
            return v;
        }
    }
}
