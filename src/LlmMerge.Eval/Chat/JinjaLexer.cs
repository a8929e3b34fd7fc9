using System.Globalization;
using System.Text;

namespace LlmMerge.Eval.Chat;

/// <summary>
/// Splits a template into tokens as jinja2's lexer does with the settings transformers' apply_chat_template uses
/// (transformers utils/chat_template_utils.py _compile_jinja_template: trim_blocks=True, lstrip_blocks=True):
/// <list type="bullet">
/// <item>line endings become \n and one trailing newline of the template is dropped (keep_trailing_newline=False);</item>
/// <item><c>{%-</c>, <c>{{-</c>, <c>{#-</c> strip all whitespace before the tag, <c>-%}</c>, <c>-}}</c>, <c>-#}</c> all
/// whitespace after it;</item>
/// <item>trim_blocks: the first newline after <c>%}</c> or <c>#}</c> is dropped (not after <c>}}</c>);</item>
/// <item>lstrip_blocks: spaces and tabs from the start of a line up to <c>{%</c> or <c>{#</c> are dropped (not before
/// <c>{{</c>); <c>{%+</c> and <c>+%}</c> turn either off for that tag;</item>
/// <item>a tag ends at its closer only outside brackets and strings, as jinja2's balancing stack does.</item>
/// </list>
/// </summary>
public static class JinjaLexer
{
    private static readonly string[] Operators =
    [
        "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "=", "<", ">", ";",
    ];

    /// <summary>The tokens of <paramref name="source"/>, ending with <see cref="JinjaTokenKind.End"/>.</summary>
    public static List<JinjaToken> Tokenize(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        string text = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        if (text.EndsWith('\n')) text = text[..^1];
        var tokens = new List<JinjaToken>();
        var lines = new LineIndex(text);
        int pos = 0;
        bool lineStarting = true;
        while (pos < text.Length)
        {
            int open = NextOpener(text, pos);
            if (open < 0)
            {
                Add(tokens, JinjaTokenKind.Data, text[pos..], lines.Line(pos));
                break;
            }

            char kind = text[open + 1];
            char sign = open + 2 < text.Length ? text[open + 2] : '\0';
            string data = text[pos..open];
            if (sign == '-')
            {
                data = data.TrimEnd();
            }
            else if (sign != '+' && kind is '%' or '#')
            {
                int lineStart = data.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && data.AsSpan(lineStart).IsWhiteSpace())
                    data = data[..lineStart];
            }

            Add(tokens, JinjaTokenKind.Data, data, lines.Line(pos));
            int inner = open + 2 + (sign is '-' or '+' ? 1 : 0);
            int line = lines.Line(open);
            if (kind == '#')
            {
                int close = text.IndexOf("#}", inner, StringComparison.Ordinal);
                if (close < 0) throw new JinjaException("a comment '{#' is never closed with '#}'", line);
                pos = AfterCloser(text, close, close + 2, trimNewline: true, out lineStarting);
                continue;
            }

            tokens.Add(new JinjaToken(kind == '{' ? JinjaTokenKind.VariableBegin : JinjaTokenKind.BlockBegin, kind == '{' ? "{{" : "{%", line));
            if (kind == '%' && IsRawTag(text, inner))
                throw new JinjaException("the 'raw' statement is not supported by llmmerge's template renderer", line);
            pos = Expression(text, inner, kind == '{' ? '}' : '%', tokens, lines, out lineStarting);
        }

        tokens.Add(new JinjaToken(JinjaTokenKind.End, "", lines.Line(text.Length)));
        return tokens;
    }

    private static void Add(List<JinjaToken> tokens, JinjaTokenKind kind, string value, int line)
    {
        if (value.Length > 0) tokens.Add(new JinjaToken(kind, value, line));
    }

    private static int NextOpener(string text, int from)
    {
        for (int i = from; i + 1 < text.Length; i++)
        {
            if (text[i] == '{' && text[i + 1] is '{' or '%' or '#') return i;
        }

        return -1;
    }

    private static bool IsRawTag(string text, int at)
    {
        int i = at;
        while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        return string.CompareOrdinal(text, i, "raw", 0, 3) == 0 && (i + 3 >= text.Length || !char.IsLetterOrDigit(text[i + 3]));
    }

    // Where text resumes after a closer that starts at closeStart (its '-' or '+' sign, if any, just before it).
    private static int AfterCloser(string text, int closeStart, int afterClose, bool trimNewline, out bool lineStarting)
    {
        char sign = closeStart > 0 ? text[closeStart - 1] : '\0';
        int pos = afterClose;
        if (sign == '-')
        {
            while (pos < text.Length && char.IsWhiteSpace(text[pos])) pos++;
        }
        else if (sign != '+' && trimNewline && pos < text.Length && text[pos] == '\n')
        {
            pos++;
        }

        lineStarting = pos > 0 && text[pos - 1] == '\n';
        return pos;
    }

    private static int Expression(string text, int pos, char closer, List<JinjaToken> tokens, LineIndex lines, out bool lineStarting)
    {
        int depth = 0;
        int startLine = lines.Line(pos);
        while (true)
        {
            while (pos < text.Length && char.IsWhiteSpace(text[pos])) pos++;
            if (pos >= text.Length)
                throw new JinjaException(closer == '}' ? "'{{' is never closed with '}}'" : "'{%' is never closed with '%}'", startLine);
            int line = lines.Line(pos);
            char c = text[pos];

            // The closer, with an optional whitespace sign before it, ends the tag only outside brackets.
            if (depth == 0)
            {
                int at = c is '-' or '+' ? pos + 1 : pos;
                if (at + 1 < text.Length && text[at] == closer && text[at + 1] == '}' && (c != '+' || closer == '%'))
                {
                    tokens.Add(new JinjaToken(closer == '}' ? JinjaTokenKind.VariableEnd : JinjaTokenKind.BlockEnd, closer == '}' ? "}}" : "%}", line));
                    return AfterCloser(text, at, at + 2, trimNewline: closer == '%', out lineStarting);
                }
            }

            if (c is '\'' or '"')
            {
                pos = StringLiteral(text, pos, line, tokens);
                continue;
            }

            if (char.IsDigit(c))
            {
                int start = pos;
                while (pos < text.Length && (char.IsDigit(text[pos]) || text[pos] == '_')) pos++;
                bool isFloat = false;
                if (pos + 1 < text.Length && text[pos] == '.' && char.IsDigit(text[pos + 1]))
                {
                    isFloat = true;
                    pos++;
                    while (pos < text.Length && (char.IsDigit(text[pos]) || text[pos] == '_')) pos++;
                }

                if (pos < text.Length && text[pos] is 'e' or 'E' && pos + 1 < text.Length && (char.IsDigit(text[pos + 1]) || (text[pos + 1] is '+' or '-' && pos + 2 < text.Length && char.IsDigit(text[pos + 2]))))
                {
                    isFloat = true;
                    pos += 2;
                    while (pos < text.Length && char.IsDigit(text[pos])) pos++;
                }

                tokens.Add(new JinjaToken(isFloat ? JinjaTokenKind.Float : JinjaTokenKind.Integer, text[start..pos].Replace("_", "", StringComparison.Ordinal), line));
                continue;
            }

            if (char.IsLetter(c) || c == '_')
            {
                int start = pos;
                while (pos < text.Length && (char.IsLetterOrDigit(text[pos]) || text[pos] == '_')) pos++;
                tokens.Add(new JinjaToken(JinjaTokenKind.Name, text[start..pos], line));
                continue;
            }

            string? op = Operators.FirstOrDefault(o => string.CompareOrdinal(text, pos, o, 0, o.Length) == 0);
            if (op is null) throw new JinjaException($"unexpected character '{c}' in a tag", line);
            if (op is "(" or "[" or "{") depth++;
            else if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
            tokens.Add(new JinjaToken(JinjaTokenKind.Operator, op, line));
            pos += op.Length;
        }
    }

    // A quoted string; escapes are decoded as Python's "unicode-escape" codec does, which is what jinja2 applies.
    private static int StringLiteral(string text, int pos, int line, List<JinjaToken> tokens)
    {
        char quote = text[pos];
        var sb = new StringBuilder();
        int i = pos + 1;
        while (true)
        {
            if (i >= text.Length) throw new JinjaException("a string literal is never closed", line);
            char c = text[i];
            if (c == quote) break;
            if (c != '\\' || i + 1 >= text.Length)
            {
                sb.Append(c);
                i++;
                continue;
            }

            char e = text[i + 1];
            i += 2;
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '\n': break; // a backslash before a newline joins the lines
                case 'x': sb.Append(Hex(text, ref i, 2, line)); break;
                case 'u': sb.Append(Hex(text, ref i, 4, line)); break;
                case 'U': sb.Append(Hex(text, ref i, 8, line)); break;
                case >= '0' and <= '7':
                {
                    int value = e - '0';
                    for (int k = 0; k < 2 && i < text.Length && text[i] is >= '0' and <= '7'; k++, i++) value = value * 8 + (text[i] - '0');
                    sb.Append((char)value);
                    break;
                }

                default:
                    // Python keeps an unknown escape as it is, backslash included.
                    sb.Append('\\').Append(e);
                    break;
            }
        }

        tokens.Add(new JinjaToken(JinjaTokenKind.String, sb.ToString(), line));
        return i + 1;
    }

    private static string Hex(string text, ref int i, int digits, int line)
    {
        if (i + digits > text.Length || !int.TryParse(text.AsSpan(i, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
            throw new JinjaException($"a string literal has a malformed \\{(digits == 2 ? "x" : digits == 4 ? "u" : "U")} escape", line);
        i += digits;
        return char.ConvertFromUtf32(code);
    }

    /// <summary>Line numbers (1-based) of positions in the normalized text.</summary>
    private sealed class LineIndex
    {
        private readonly List<int> _starts = [0];

        public LineIndex(string text)
        {
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] == '\n') _starts.Add(i + 1);
            }
        }

        public int Line(int pos)
        {
            int k = _starts.BinarySearch(pos);
            return (k >= 0 ? k : ~k - 1) + 1;
        }
    }
}
