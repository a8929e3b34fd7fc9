using System.Text;

namespace LlmMerge.Eval.Chat;

/// <summary>
/// The Python methods templates call on strings, dicts and lists (<c>content.strip()</c>,
/// <c>message.get('x')</c>, <c>tool.items()</c>). Methods that would change a value (<c>append</c>, <c>update</c>,
/// <c>pop</c>) are refused, as transformers' ImmutableSandboxedEnvironment refuses them.
/// </summary>
internal static class JinjaMethods
{
    private static readonly HashSet<string> Mutating = new(StringComparer.Ordinal)
    {
        "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault", "popitem",
    };

    /// <summary>The bound method <paramref name="name"/> of <paramref name="target"/>, or null when it has none (then a dict key is tried).</summary>
    public static JinjaCallable? Bind(object? target, string name, int line)
    {
        switch (target)
        {
            case string s:
                return StringMethod(s, name, line);
            case IDictionary<string, object?> d:
                return DictMethod(d, name, line);
            case IReadOnlyDictionary<string, object?> rd:
                return DictMethod(rd.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), name, line);
            case List<object?> list:
                if (Mutating.Contains(name))
                    throw new JinjaException($"the list method '{name}' changes the list, which transformers' immutable sandbox refuses", line);
                return name switch
                {
                    "index" => Method(name, (a, l) => (long)FindIndex(list, Arg(a, 0, name, l), l)),
                    "count" => Method(name, (a, l) => (long)list.Count(x => JinjaValues.Equal(x, Arg(a, 0, name, l)))),
                    _ => null,
                };
            default:
                return null;
        }
    }

    private static JinjaCallable? StringMethod(string s, string name, int line) => name switch
    {
        "strip" => Method(name, (a, l) => Strip(s, a, l, true, true)),
        "lstrip" => Method(name, (a, l) => Strip(s, a, l, true, false)),
        "rstrip" => Method(name, (a, l) => Strip(s, a, l, false, true)),
        "lower" => Method(name, (_, _) => s.ToLowerInvariant()),
        "upper" => Method(name, (_, _) => s.ToUpperInvariant()),
        "title" => Method(name, (_, _) => Title(s)),
        "capitalize" => Method(name, (_, _) => Capitalize(s)),
        "startswith" => Method(name, (a, l) => Affix(s, Arg(a, 0, name, l), l, start: true)),
        "endswith" => Method(name, (a, l) => Affix(s, Arg(a, 0, name, l), l, start: false)),
        "split" => Method(name, (a, l) => Split(s, a, l)),
        "replace" => Method(name, (a, l) => Replace(s, StrArg(a, 0, name, l), StrArg(a, 1, name, l), a.Count > 2 ? JinjaValues.ToLong(a[2]) : -1)),
        "find" => Method(name, (a, l) => (long)s.IndexOf(StrArg(a, 0, name, l), StringComparison.Ordinal)),
        "count" => Method(name, (a, l) => (long)Count(s, StrArg(a, 0, name, l))),
        "join" => Method(name, (a, l) => string.Join(s, (JinjaValues.Iterate(Arg(a, 0, name, l)) ?? throw new JinjaException("join() needs something to iterate", l)).Select(JinjaValues.Str))),
        "isdigit" => Method(name, (_, _) => s.Length > 0 && s.All(char.IsDigit)),
        "isspace" => Method(name, (_, _) => s.Length > 0 && s.All(char.IsWhiteSpace)),
        "isalpha" => Method(name, (_, _) => s.Length > 0 && s.All(char.IsLetter)),
        "format" => throw new JinjaException("str.format() is not supported by llmmerge's template renderer; use '~' or '+'", line),
        _ => null,
    };

    private static JinjaCallable? DictMethod(IDictionary<string, object?> d, string name, int line)
    {
        if (Mutating.Contains(name))
            throw new JinjaException($"the dict method '{name}' changes the dict, which transformers' immutable sandbox refuses", line);
        return name switch
        {
            "items" => Method(name, (_, _) => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList()),
            "keys" => Method(name, (_, _) => d.Keys.Cast<object?>().ToList()),
            "values" => Method(name, (_, _) => d.Values.ToList()),
            "get" => Method(name, (a, l) => Arg(a, 0, name, l) is string k && d.TryGetValue(k, out object? v) ? v : a.Count > 1 ? a[1] : null),
            _ => null,
        };
    }

    private static JinjaCallable Method(string name, Func<List<object?>, int, object?> body) =>
        new(name + "()", (args, kwargs, line) =>
        {
            if (kwargs.Count > 0) throw new JinjaException($"{name}() takes no keyword arguments here", line);
            return body(args, line);
        });

    private static object? Arg(List<object?> args, int i, string name, int line) =>
        args.Count > i ? args[i] : throw new JinjaException($"{name}() needs {i + 1} argument(s)", line);

    private static string StrArg(List<object?> args, int i, string name, int line) =>
        Arg(args, i, name, line) is string s ? s : throw new JinjaException($"{name}() needs a string as argument {i + 1}", line);

    public static string Strip(string s, List<object?> args, int line, bool start, bool end)
    {
        if (args.Count == 0 || args[0] is null)
            return start && end ? s.Trim() : start ? s.TrimStart() : s.TrimEnd();
        if (args[0] is not string chars) throw new JinjaException("strip() takes a string of characters", line);
        char[] set = chars.ToCharArray();
        return start && end ? s.Trim(set) : start ? s.TrimStart(set) : s.TrimEnd(set);
    }

    private static bool Affix(string s, object? arg, int line, bool start)
    {
        IEnumerable<object?> options = arg is List<object?> list ? list : [arg];
        foreach (object? o in options)
        {
            if (o is not string p) throw new JinjaException($"{(start ? "startswith" : "endswith")}() takes a string or a tuple of strings", line);
            if (start ? s.StartsWith(p, StringComparison.Ordinal) : s.EndsWith(p, StringComparison.Ordinal)) return true;
        }

        return false;
    }

    private static List<object?> Split(string s, List<object?> args, int line)
    {
        long max = args.Count > 1 ? JinjaValues.ToLong(args[1]) : -1;
        if (args.Count == 0 || args[0] is null)
        {
            // Runs of whitespace, no empty strings, as Python's split().
            var words = new List<object?>();
            int i = 0;
            while (i < s.Length)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (max >= 0 && words.Count == max)
                {
                    words.Add(s[i..].TrimEnd());
                    break;
                }

                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
                words.Add(s[start..i]);
            }

            return words;
        }

        if (args[0] is not string sep || sep.Length == 0) throw new JinjaException("split() needs a non-empty separator", line);
        var parts = max >= 0 ? s.Split(sep, (int)max + 1) : s.Split(sep);
        return parts.Cast<object?>().ToList();
    }

    private static string Replace(string s, string old, string @new, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertEverywhere(s, @new) : s.Replace(old, @new, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int at = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (at < 0 || old.Length == 0) break;
            sb.Append(s, pos, at - pos).Append(@new);
            pos = at + old.Length;
        }

        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static string InsertEverywhere(string s, string insert)
    {
        var sb = new StringBuilder(insert);
        foreach (char c in s) sb.Append(c).Append(insert);
        return sb.ToString();
    }

    private static int Count(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        int n = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static int FindIndex(List<object?> list, object? item, int line)
    {
        int i = list.FindIndex(x => JinjaValues.Equal(x, item));
        return i >= 0 ? i : throw new JinjaException($"{JinjaValues.Repr(item)} is not in the list", line);
    }

    /// <summary>Python's str.title(): a letter after a non-letter is upper case, every other letter lower case.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            sb.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c);
        }

        return sb.ToString();
    }

    /// <summary>Python's str.capitalize(): the first character upper case, the rest lower case.</summary>
    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
}
