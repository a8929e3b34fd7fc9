using System.Globalization;
using System.Text;
using LlmMerge.Core;

namespace LlmMerge.Eval.Tasks;

/// <summary>
/// The part of Jinja that lm-eval task YAMLs use in <c>doc_to_text</c>, <c>doc_to_choice</c> and
/// <c>doc_to_target</c>: <c>{{ expression }}</c> with fields, <c>.key</c> and <c>[index]</c> access, list
/// literals (<c>{{[sol1, sol2]}}</c>), string and integer literals, <c>+</c>/<c>~</c>, the string methods
/// strip/lstrip/rstrip/lower/upper/split/replace, list <c>.index(x)</c>, and the filters trim, lower, upper,
/// string, int, length, first, last, join and replace; <c>{# comments #}</c> and <c>-</c> whitespace control.
/// A missing field is an error, as under lm-eval's StrictUndefined. Statements (<c>{% ... %}</c>) are refused
/// with a message, rather than rendered wrongly.
/// </summary>
public sealed class DocTemplate
{
    private readonly List<object> _parts; // string literal text, or Expr
    private readonly string _text;

    private DocTemplate(string text, List<object> parts)
    {
        _text = text;
        _parts = parts;
    }

    /// <summary>Whether <paramref name="text"/> holds any Jinja markup.</summary>
    public static bool HasMarkup(string text) => text.Contains("{{") || text.Contains("{%") || text.Contains("{#");

    /// <summary>Parses <paramref name="text"/>; <paramref name="where"/> names the YAML key in errors.</summary>
    public static DocTemplate Parse(string text, string where)
    {
        var parts = new List<object>();
        var literal = new StringBuilder();
        int i = 0;
        bool trimNext = false;
        while (i < text.Length)
        {
            int open = IndexOfOpen(text, i);
            if (open < 0)
            {
                literal.Append(trimNext ? text[i..].TrimStart() : text[i..]);
                break;
            }

            string chunk = text[i..open];
            if (trimNext) chunk = chunk.TrimStart();
            bool trimBefore = open + 2 < text.Length && text[open + 2] == '-';
            literal.Append(trimBefore ? chunk.TrimEnd() : chunk);
            string kind = text.Substring(open, 2);
            if (kind == "{%")
                throw new LlmMergeException($"{where}: Jinja statements ({{% ... %}}) are not supported in task templates; only {{{{ expressions }}}}: {Preview(text)}");
            string close = kind == "{{" ? "}}" : "#}";
            int end = text.IndexOf(close, open + 2, StringComparison.Ordinal);
            if (end < 0)
                throw new LlmMergeException($"{where}: '{kind}' is never closed with '{close}': {Preview(text)}");
            int innerStart = open + 2 + (trimBefore ? 1 : 0);
            trimNext = end > innerStart && text[end - 1] == '-';
            string inner = text[innerStart..(trimNext ? end - 1 : end)];
            if (kind == "{{")
            {
                if (literal.Length > 0) { parts.Add(literal.ToString()); literal.Clear(); }
                parts.Add(new ExprParser(inner, where, text).ParseAll());
            }

            i = end + 2;
        }

        if (literal.Length > 0) parts.Add(literal.ToString());
        return new DocTemplate(text, parts);
    }

    /// <summary>The template rendered for <paramref name="doc"/>; values print as Jinja prints them (Python's str()).</summary>
    public string Render(TaskDoc doc)
    {
        var sb = new StringBuilder();
        foreach (object part in _parts)
        {
            if (part is string s) sb.Append(s);
            else sb.Append(PythonLiteral.ToStr(((Expr)part).Eval(doc)));
        }

        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => _text;

    private static int IndexOfOpen(string text, int from)
    {
        for (int i = from; i + 1 < text.Length; i++)
        {
            if (text[i] == '{' && text[i + 1] is '{' or '%' or '#') return i;
        }

        return -1;
    }

    private static string Preview(string text) => text.Length <= 80 ? text : text[..77] + "...";

    private abstract class Expr
    {
        public abstract object? Eval(TaskDoc doc);
    }

    private sealed class Literal(object? value) : Expr
    {
        public override object? Eval(TaskDoc doc) => value;
    }

    private sealed class Field(string name, string where) : Expr
    {
        public override object? Eval(TaskDoc doc)
        {
            if (doc.Fields.TryGetValue(name, out object? v)) return v;
            throw new LlmMergeException($"{doc.Source}: {where} uses field '{name}', which the record does not have (it has: {string.Join(", ", doc.Fields.Keys)}).");
        }
    }

    private sealed class ListExpr(List<Expr> items) : Expr
    {
        public override object? Eval(TaskDoc doc) => items.Select(e => e.Eval(doc)).ToList();
    }

    private sealed class Concat(Expr left, Expr right, bool tilde) : Expr
    {
        public override object? Eval(TaskDoc doc)
        {
            object? a = left.Eval(doc), b = right.Eval(doc);
            if (!tilde && a is long x && b is long y) return x + y;
            if (!tilde && a is List<object?> la && b is List<object?> lb) return la.Concat(lb).ToList();
            return PythonLiteral.ToStr(a) + PythonLiteral.ToStr(b);
        }
    }

    private sealed class Index(Expr target, Expr index, string where) : Expr
    {
        public override object? Eval(TaskDoc doc)
        {
            object? t = target.Eval(doc), k = index.Eval(doc);
            switch (t)
            {
                case List<object?> list when k is long i:
                {
                    long j = i < 0 ? list.Count + i : i;
                    if (j < 0 || j >= list.Count)
                        throw new LlmMergeException($"{doc.Source}: {where}: index {i} is out of range for a list of {list.Count}.");
                    return list[(int)j];
                }

                case string s when k is long i:
                {
                    long j = i < 0 ? s.Length + i : i;
                    if (j < 0 || j >= s.Length)
                        throw new LlmMergeException($"{doc.Source}: {where}: index {i} is out of range for a string of {s.Length}.");
                    return s[(int)j].ToString();
                }

                case IReadOnlyDictionary<string, object?> d:
                    return Key(d, PythonLiteral.ToStr(k), doc, where);
                default:
                    throw new LlmMergeException($"{doc.Source}: {where}: cannot index {TypeName(t)} with {PythonLiteral.Repr(k)}.");
            }
        }
    }

    private sealed class Attribute(Expr target, string name, string where) : Expr
    {
        public override object? Eval(TaskDoc doc)
        {
            object? t = target.Eval(doc);
            if (t is IReadOnlyDictionary<string, object?> d) return Key(d, name, doc, where);
            throw new LlmMergeException($"{doc.Source}: {where}: {TypeName(t)} has no attribute '{name}'.");
        }
    }

    private sealed class Call(Expr target, string name, List<Expr> args, bool filter, string where) : Expr
    {
        public override object? Eval(TaskDoc doc)
        {
            object? t = target.Eval(doc);
            object?[] a = args.Select(e => e.Eval(doc)).ToArray();
            string what = filter ? $"filter '{name}'" : $"method '{name}'";
            string Str(int k) => a.Length > k ? PythonLiteral.ToStr(a[k]) : throw new LlmMergeException($"{doc.Source}: {where}: {what} needs {k + 1} argument(s).");
            switch (name, t, filter)
            {
                case ("strip" or "trim", string s, _): return a.Length > 0 ? s.Trim(Str(0).ToCharArray()) : s.Trim();
                case ("lstrip", string s, false): return a.Length > 0 ? s.TrimStart(Str(0).ToCharArray()) : s.TrimStart();
                case ("rstrip", string s, false): return a.Length > 0 ? s.TrimEnd(Str(0).ToCharArray()) : s.TrimEnd();
                case ("lower", string s, _): return s.ToLowerInvariant();
                case ("upper", string s, _): return s.ToUpperInvariant();
                case ("replace", string s, _): return s.Replace(Str(0), Str(1), StringComparison.Ordinal);
                case ("split", string s, false):
                    return (a.Length > 0 ? s.Split(Str(0)) : s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).Cast<object?>().ToList();
                case ("index", List<object?> list, false):
                {
                    if (a.Length != 1) throw new LlmMergeException($"{doc.Source}: {where}: index() takes one argument.");
                    int found = list.FindIndex(x => Equals(x, a[0]));
                    if (found < 0)
                        throw new LlmMergeException($"{doc.Source}: {where}: {PythonLiteral.Repr(a[0])} is not in the list {PythonLiteral.Repr(list)}.");
                    return (long)found;
                }

                case ("string", _, true): return PythonLiteral.ToStr(t);
                case ("int", _, true):
                    return t switch
                    {
                        long l => l,
                        double d => (long)d,
                        bool b => b ? 1L : 0L,
                        string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) => l,
                        _ => 0L, // Jinja's int filter falls back to 0
                    };
                case ("length" or "count", string s, true): return (long)s.Length;
                case ("length" or "count", List<object?> list, true): return (long)list.Count;
                case ("first", List<object?> list, true) when list.Count > 0: return list[0];
                case ("last", List<object?> list, true) when list.Count > 0: return list[^1];
                case ("join", List<object?> list, true): return string.Join(a.Length > 0 ? Str(0) : "", list.Select(PythonLiteral.ToStr));
                default:
                    throw new LlmMergeException($"{doc.Source}: {where}: {what} is not supported on {TypeName(t)} by llmmerge's templates.");
            }
        }
    }

    private static object? Key(IReadOnlyDictionary<string, object?> d, string key, TaskDoc doc, string where) =>
        d.TryGetValue(key, out object? v) ? v : throw new LlmMergeException($"{doc.Source}: {where}: no key '{key}' (keys: {string.Join(", ", d.Keys)}).");

    private static string TypeName(object? v) => v switch
    {
        null => "None",
        string => "a string",
        long => "an integer",
        double => "a float",
        bool => "a bool",
        List<object?> => "a list",
        _ => "a record",
    };

    private sealed class ExprParser(string src, string where, string template)
    {
        private int _pos;

        public Expr ParseAll()
        {
            Expr e = Filtered();
            Space();
            if (_pos < src.Length) throw Error($"unexpected '{src[_pos..]}'");
            return e;
        }

        private LlmMergeException Error(string what) =>
            new($"{where}: {what} in the template expression '{{{{{src}}}}}' of: {Preview(template)}");

        private void Space()
        {
            while (_pos < src.Length && char.IsWhiteSpace(src[_pos])) _pos++;
        }

        private bool Eat(char c)
        {
            Space();
            if (_pos < src.Length && src[_pos] == c) { _pos++; return true; }
            return false;
        }

        private Expr Filtered()
        {
            Expr e = Sum();
            while (Eat('|'))
            {
                string name = Ident() ?? throw Error("a filter name is missing after '|'");
                List<Expr> args = Eat('(') ? Args(')') : [];
                e = new Call(e, name, args, filter: true, where);
            }

            return e;
        }

        private Expr Sum()
        {
            Expr e = Postfix();
            while (true)
            {
                if (Eat('+')) e = new Concat(e, Postfix(), tilde: false);
                else if (Eat('~')) e = new Concat(e, Postfix(), tilde: true);
                else return e;
            }
        }

        private Expr Postfix()
        {
            Expr e = Primary();
            while (true)
            {
                if (Eat('.'))
                {
                    string name = Ident() ?? throw Error("a name is missing after '.'");
                    e = Eat('(') ? new Call(e, name, Args(')'), filter: false, where) : new Attribute(e, name, where);
                }
                else if (Eat('['))
                {
                    Expr index = Filtered();
                    if (!Eat(']')) throw Error("']' is missing");
                    e = new Index(e, index, where);
                }
                else
                {
                    return e;
                }
            }
        }

        private List<Expr> Args(char close)
        {
            var args = new List<Expr>();
            if (Eat(close)) return args;
            while (true)
            {
                args.Add(Filtered());
                if (Eat(close)) return args;
                if (!Eat(',')) throw Error($"',' or '{close}' is missing");
                if (Eat(close)) return args;
            }
        }

        private Expr Primary()
        {
            Space();
            if (_pos >= src.Length) throw Error("an expression is missing");
            char c = src[_pos];
            if (c == '[')
            {
                _pos++;
                return new ListExpr(Args(']'));
            }

            if (c == '(')
            {
                _pos++;
                Expr inner = Filtered();
                if (!Eat(')')) throw Error("')' is missing");
                return inner;
            }

            if (c is '\'' or '"')
            {
                int end = _pos + 1;
                while (end < src.Length && src[end] != c) end += src[end] == '\\' ? 2 : 1;
                if (end >= src.Length) throw Error("a string is never closed");
                object? s = PythonLiteral.Parse(src[_pos..(end + 1)]);
                _pos = end + 1;
                return new Literal(s);
            }

            if (char.IsDigit(c) || (c == '-' && _pos + 1 < src.Length && char.IsDigit(src[_pos + 1])))
            {
                int start = _pos++;
                while (_pos < src.Length && (char.IsDigit(src[_pos]) || src[_pos] == '.')) _pos++;
                return new Literal(PythonLiteral.Parse(src[start.._pos]));
            }

            string? name = Ident();
            return name switch
            {
                null => throw Error($"unexpected '{c}'"),
                "true" or "True" => new Literal(true),
                "false" or "False" => new Literal(false),
                "none" or "None" => new Literal(null),
                _ => new Field(name, where),
            };
        }

        private string? Ident()
        {
            Space();
            int start = _pos;
            while (_pos < src.Length && (char.IsLetterOrDigit(src[_pos]) || src[_pos] == '_') && (_pos > start || !char.IsDigit(src[_pos]))) _pos++;
            return _pos > start ? src[start.._pos] : null;
        }
    }
}
