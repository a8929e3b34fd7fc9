using System.Globalization;
using System.Text;

namespace LlmMerge.Eval.Chat;

/// <summary>
/// transformers' <c>tojson</c> filter: Python's json.dumps(x, ensure_ascii=False, indent=indent,
/// separators=separators, sort_keys=sort_keys), not jinja2's HTML-escaping one.
/// </summary>
internal static class JinjaJson
{
    public static string Dumps(object? value, long? indent, string itemSeparator, string keySeparator, bool sortKeys, int line)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, itemSeparator, keySeparator, sortKeys, 0, line);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, long? indent, string itemSep, string keySep, bool sortKeys, int depth, int line)
    {
        switch (v)
        {
            case null: sb.Append("null"); return;
            case bool b: sb.Append(b ? "true" : "false"); return;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : Tasks.PythonLiteral.Repr(d));
                return;
            case string s: String(sb, s); return;
            case JinjaUndefined u: throw new JinjaException($"'{u.Name}' is undefined and cannot be written as JSON", line);
            case List<object?> list:
                Container(sb, '[', ']', list.Count, indent, itemSep, depth, (i, inner) => Write(sb, list[i], indent, itemSep, keySep, sortKeys, inner, line));
                return;
            case IDictionary<string, object?> dict:
            {
                var pairs = dict.ToList();
                if (sortKeys) pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
                Container(sb, '{', '}', pairs.Count, indent, itemSep, depth, (i, inner) =>
                {
                    String(sb, pairs[i].Key);
                    sb.Append(keySep);
                    Write(sb, pairs[i].Value, indent, itemSep, keySep, sortKeys, inner, line);
                });
                return;
            }

            default:
                throw new JinjaException($"{JinjaValues.TypeName(v)} cannot be written as JSON", line);
        }
    }

    private static void Container(StringBuilder sb, char open, char close, int count, long? indent, string itemSep, int depth, Action<int, int> item)
    {
        sb.Append(open);
        if (count == 0)
        {
            sb.Append(close);
            return;
        }

        string? pad = indent is long n ? new string(' ', (int)(n * (depth + 1))) : null;
        for (int i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(itemSep);
            if (pad is not null) sb.Append('\n').Append(pad);
            item(i, depth + 1);
        }

        if (pad is not null) sb.Append('\n').Append(new string(' ', (int)(indent!.Value * depth)));
        sb.Append(close);
    }

    // ensure_ascii=False: only the quote, the backslash and control characters are escaped.
    private static void String(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }

        sb.Append('"');
    }
}
