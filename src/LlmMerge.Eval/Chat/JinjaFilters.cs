using System.Globalization;
using System.Text;

namespace LlmMerge.Eval.Chat;

/// <summary>
/// The filters Hugging Face chat templates use, with jinja2's semantics (jinja2/filters.py), and transformers'
/// own <c>tojson</c>. Any other filter name is an error that names it.
/// </summary>
internal static class JinjaFilters
{
    /// <summary>The filter names this renderer knows.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "trim", "tojson", "length", "count", "upper", "lower", "title", "capitalize", "replace", "string", "int", "float",
        "join", "first", "last", "list", "selectattr", "rejectattr", "select", "reject", "map", "default", "d", "items",
        "reverse", "safe", "indent", "abs", "unique", "sort", "sum", "min", "max", "wordcount",
    ];

    public static object? Apply(string name, object? v, List<object?> args, Dictionary<string, object?> kwargs, int line)
    {
        object? Arg(int i, string key, object? fallback) =>
            kwargs.TryGetValue(key, out object? k) ? k : args.Count > i ? args[i] : fallback;

        switch (name)
        {
            case "trim":
                return JinjaMethods.Strip(JinjaValues.Str(v), Arg(0, "chars", null) is string chars ? [chars] : [], line, true, true);
            case "tojson":
            {
                long? indent = Arg(1, "indent", null) is long n ? n : null;
                string itemSep = indent is null ? ", " : ",", keySep = ": ";
                if (Arg(2, "separators", null) is List<object?> seps && seps.Count == 2)
                {
                    itemSep = JinjaValues.Str(seps[0]);
                    keySep = JinjaValues.Str(seps[1]);
                }

                return JinjaJson.Dumps(v, indent, itemSep, keySep, JinjaValues.Truthy(Arg(3, "sort_keys", false)), line);
            }

            case "length" or "count":
                return JinjaValues.Length(v) ?? throw new JinjaException($"{JinjaValues.TypeName(v)} has no length", line);
            case "upper": return JinjaValues.Str(v).ToUpperInvariant();
            case "lower": return JinjaValues.Str(v).ToLowerInvariant();
            case "title": return JinjaMethods.Title(JinjaValues.Str(v));
            case "capitalize": return JinjaMethods.Capitalize(JinjaValues.Str(v));
            case "replace":
            {
                string s = JinjaValues.Str(v), old = JinjaValues.Str(Arg(0, "old", "")), @new = JinjaValues.Str(Arg(1, "new", ""));
                return old.Length == 0 ? s : s.Replace(old, @new, StringComparison.Ordinal);
            }

            case "string": return JinjaValues.Str(v);
            case "safe": return v;
            case "int":
                return v switch
                {
                    long l => l,
                    bool b => b ? 1L : 0L,
                    double d => (long)Math.Truncate(d),
                    string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) => l,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => (long)Math.Truncate(d),
                    _ => Arg(0, "default", 0L),
                };
            case "float":
                return v switch
                {
                    long or bool or double => JinjaValues.ToDouble(v),
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
                    _ => Arg(0, "default", 0.0),
                };
            case "join":
            {
                var items = Items(v, name, line);
                if (Arg(1, "attribute", null) is string attr) items = items.Select(x => JinjaOperators.GetAttr(x, attr, line)).ToList();
                return string.Join(JinjaValues.Str(Arg(0, "d", "")), items.Select(JinjaValues.Str));
            }

            case "first":
            {
                var items = Items(v, name, line);
                return items.Count > 0 ? items[0] : new JinjaUndefined("first of an empty sequence");
            }

            case "last":
            {
                var items = Items(v, name, line);
                return items.Count > 0 ? items[^1] : new JinjaUndefined("last of an empty sequence");
            }

            case "list": return Items(v, name, line).ToList();
            case "reverse": return v is string rs ? new string(rs.Reverse().ToArray()) : Enumerable.Reverse(Items(v, name, line)).ToList();
            case "items":
                return v switch
                {
                    IDictionary<string, object?> d => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
                    JinjaUndefined => new List<object?>(),
                    _ => throw new JinjaException($"items needs a dict, not {JinjaValues.TypeName(v)}", line),
                };
            case "default" or "d":
            {
                bool boolean = JinjaValues.Truthy(Arg(1, "boolean", false));
                return v is JinjaUndefined || (boolean && !JinjaValues.Truthy(v)) ? Arg(0, "default_value", "") : v;
            }

            case "selectattr" or "rejectattr":
            {
                if (args.Count == 0) throw new JinjaException($"{name} needs an attribute name", line);
                string attr = JinjaValues.Str(args[0]);
                bool keep = name == "selectattr";
                return Items(v, name, line).Where(x =>
                {
                    object? a = JinjaOperators.GetAttr(x, attr, line);
                    bool ok = args.Count > 1 ? JinjaTests.Apply(JinjaValues.Str(args[1]), a, args.Skip(2).ToList(), line) : JinjaValues.Truthy(a);
                    return ok == keep;
                }).ToList();
            }

            case "select" or "reject":
            {
                bool keep = name == "select";
                return Items(v, name, line).Where(x =>
                    (args.Count > 0 ? JinjaTests.Apply(JinjaValues.Str(args[0]), x, args.Skip(1).ToList(), line) : JinjaValues.Truthy(x)) == keep).ToList();
            }

            case "map":
            {
                var items = Items(v, name, line);
                if (kwargs.TryGetValue("attribute", out object? attribute))
                {
                    object? fallback = kwargs.TryGetValue("default", out object? dv) ? dv : null;
                    return items.Select(x =>
                    {
                        object? a = JinjaOperators.GetAttr(x, JinjaValues.Str(attribute), line);
                        return a is JinjaUndefined && fallback is not null ? fallback : a;
                    }).ToList();
                }

                if (args.Count == 0) throw new JinjaException("map needs a filter name or attribute=", line);
                string filter = JinjaValues.Str(args[0]);
                return items.Select(x => Apply(filter, x, args.Skip(1).ToList(), [], line)).ToList();
            }

            case "indent":
            {
                object? width = Arg(0, "width", 4L);
                string pad = width is string ws ? ws : new string(' ', (int)JinjaValues.ToLong(width));
                bool first = JinjaValues.Truthy(Arg(1, "first", false)), blank = JinjaValues.Truthy(Arg(2, "blank", false));
                string[] lines = JinjaValues.Str(v).Split('\n');
                var sb = new StringBuilder();
                for (int i = 0; i < lines.Length; i++)
                {
                    if (i > 0) sb.Append('\n');
                    bool indentThis = (i > 0 || first) && (blank || lines[i].Length > 0);
                    sb.Append(indentThis ? pad : "").Append(lines[i]);
                }

                return sb.ToString();
            }

            case "abs":
                return v switch
                {
                    long l => (object)Math.Abs(l),
                    double dd => Math.Abs(dd),
                    bool b => b ? 1L : 0L,
                    _ => throw new JinjaException($"abs needs a number, not {JinjaValues.TypeName(v)}", line),
                };
            case "unique":
            {
                var seen = new List<object?>();
                foreach (object? x in Items(v, name, line))
                {
                    if (!seen.Any(s => JinjaValues.Equal(s, x))) seen.Add(x);
                }

                return seen;
            }

            case "sort":
            {
                var items = Items(v, name, line).ToList();
                string? attr = Arg(2, "attribute", null) as string;
                object? Key(object? x) => attr is null ? x : JinjaOperators.GetAttr(x, attr, line);
                items.Sort((a, b) => JinjaOperators.Compare("<", Key(a), Key(b), line) ? -1 : JinjaOperators.Compare("<", Key(b), Key(a), line) ? 1 : 0);
                if (JinjaValues.Truthy(Arg(0, "reverse", false))) items.Reverse();
                return items;
            }

            case "sum":
                return Items(v, name, line).Aggregate(Arg(1, "start", 0L), (acc, x) => JinjaOperators.Binary("+", acc, x, line));
            case "min" or "max":
            {
                var items = Items(v, name, line);
                if (items.Count == 0) return new JinjaUndefined($"{name} of an empty sequence");
                object? best = items[0];
                foreach (object? x in items.Skip(1))
                {
                    if (JinjaOperators.Compare(name == "min" ? "<" : ">", x, best, line)) best = x;
                }

                return best;
            }

            case "wordcount":
                return (long)JinjaValues.Str(v).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
            default:
                throw new JinjaException($"the filter '{name}' is not supported by llmmerge's template renderer (supported: {string.Join(", ", Names)})", line);
        }
    }

    private static List<object?> Items(object? v, string filter, int line) =>
        JinjaValues.Iterate(v) ?? throw new JinjaException($"the filter '{filter}' needs a sequence, not {JinjaValues.TypeName(v)}", line);
}
