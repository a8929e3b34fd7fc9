namespace LlmMerge.Eval.Chat;

/// <summary>Python's operators, attribute and item access as jinja2's sandbox applies them to template values.</summary>
internal static class JinjaOperators
{
    public static object? Binary(string op, object? a, object? b, int line)
    {
        if (op == "~") return JinjaValues.Str(a) + JinjaValues.Str(b);
        if (a is JinjaUndefined ua) throw Undefined(ua, line);
        if (b is JinjaUndefined ub) throw Undefined(ub, line);
        switch (op)
        {
            case "+":
                if (a is string sa && b is string sb) return sa + sb;
                if (a is List<object?> la && b is List<object?> lb) return la.Concat(lb).ToList();
                break;
            case "*":
                if (a is string s1 && b is long or bool) return Repeat(s1, JinjaValues.ToLong(b));
                if (b is string s2 && a is long or bool) return Repeat(s2, JinjaValues.ToLong(a));
                if (a is List<object?> l1 && b is long or bool) return Enumerable.Repeat(l1, (int)Math.Max(0, JinjaValues.ToLong(b))).SelectMany(x => x).ToList();
                break;
            case "%" when a is string:
                throw new JinjaException("string formatting with '%' is not supported by llmmerge's template renderer; use '~' or '+'", line);
        }

        if (!JinjaValues.IsNumber(a) || !JinjaValues.IsNumber(b))
            throw new JinjaException($"unsupported operand types for {op}: {JinjaValues.TypeName(a)} and {JinjaValues.TypeName(b)}", line);
        bool integral = a is not double && b is not double;
        if (integral)
        {
            long x = JinjaValues.ToLong(a), y = JinjaValues.ToLong(b);
            switch (op)
            {
                case "+": return x + y;
                case "-": return x - y;
                case "*": return x * y;
                case "/": return y == 0 ? throw DivideByZero(line) : (double)x / y;
                case "//": return y == 0 ? throw DivideByZero(line) : FloorDiv(x, y);
                case "%": return y == 0 ? throw DivideByZero(line) : x - (y * FloorDiv(x, y));
                case "**": return y >= 0 ? (object)(long)Math.Pow(x, y) : Math.Pow(x, y);
            }
        }

        double p = JinjaValues.ToDouble(a), q = JinjaValues.ToDouble(b);
        return op switch
        {
            "+" => p + q,
            "-" => p - q,
            "*" => p * q,
            "/" => q == 0 ? throw DivideByZero(line) : p / q,
            "//" => q == 0 ? throw DivideByZero(line) : Math.Floor(p / q),
            "%" => q == 0 ? throw DivideByZero(line) : p - (q * Math.Floor(p / q)),
            "**" => Math.Pow(p, q),
            _ => throw new JinjaException($"unknown operator {op}", line),
        };
    }

    public static bool Compare(string op, object? a, object? b, int line)
    {
        switch (op)
        {
            case "==": return JinjaValues.Equal(a, b);
            case "!=": return !JinjaValues.Equal(a, b);
            case "in": return Contains(b, a, line);
            case "notin": return !Contains(b, a, line);
        }

        int c;
        if (JinjaValues.IsNumber(a) && JinjaValues.IsNumber(b)) c = JinjaValues.ToDouble(a).CompareTo(JinjaValues.ToDouble(b));
        else if (a is string sa && b is string sb) c = string.CompareOrdinal(sa, sb);
        else throw new JinjaException($"'{op}' is not supported between {JinjaValues.TypeName(a)} and {JinjaValues.TypeName(b)}", line);
        return op switch
        {
            "<" => c < 0,
            "<=" => c <= 0,
            ">" => c > 0,
            ">=" => c >= 0,
            _ => throw new JinjaException($"unknown comparison {op}", line),
        };
    }

    public static bool Contains(object? container, object? item, int line) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string when item is not JinjaUndefined => throw new JinjaException($"'in <string>' needs a string on the left, not {JinjaValues.TypeName(item)}", line),
        IDictionary<string, object?> d => item is string k && d.ContainsKey(k),
        List<object?> list => list.Any(x => JinjaValues.Equal(x, item)),
        JinjaUndefined => false,
        _ => throw new JinjaException($"{JinjaValues.TypeName(container)} cannot be searched with 'in'", line),
    };

    public static object? GetAttr(object? target, string name, int line)
    {
        switch (target)
        {
            case JinjaUndefined u:
                throw Undefined(u, line, $"has no attribute '{name}'");
            case JinjaLoop loop:
                return loop.Attribute(name);
            case JinjaNamespace ns:
                return ns.Attributes.TryGetValue(name, out object? v) ? v : new JinjaUndefined(name);
        }

        if (JinjaMethods.Bind(target, name, line) is JinjaCallable method) return method;
        if (target is IReadOnlyDictionary<string, object?> ro) return ro.TryGetValue(name, out object? x) ? x : new JinjaUndefined(name);
        if (target is IDictionary<string, object?> dict) return dict.TryGetValue(name, out object? y) ? y : new JinjaUndefined(name);
        return new JinjaUndefined(name);
    }

    public static object? GetItem(object? target, object? key, int line)
    {
        switch (target)
        {
            case JinjaUndefined u:
                throw Undefined(u, line, $"cannot be indexed with {JinjaValues.Repr(key)}");
            case List<object?> list when key is long or bool:
            {
                long i = JinjaValues.ToLong(key);
                long j = i < 0 ? list.Count + i : i;
                return j >= 0 && j < list.Count ? list[(int)j] : new JinjaUndefined($"[{i}]");
            }

            case string s when key is long or bool:
            {
                var chars = JinjaValues.Characters(s);
                long i = JinjaValues.ToLong(key);
                long j = i < 0 ? chars.Count + i : i;
                return j >= 0 && j < chars.Count ? chars[(int)j] : new JinjaUndefined($"[{i}]");
            }

            case IDictionary<string, object?> d when key is string k:
                return d.TryGetValue(k, out object? v) ? v : new JinjaUndefined(k);
            case IReadOnlyDictionary<string, object?> rd when key is string k:
                return rd.TryGetValue(k, out object? w) ? w : new JinjaUndefined(k);
        }

        // jinja2 falls back to the attribute of that name.
        return key is string name ? GetAttr(target, name, line) : new JinjaUndefined(JinjaValues.Repr(key));
    }

    public static object? Slice(object? target, object? start, object? stop, object? step, int line)
    {
        List<object?> items = target switch
        {
            List<object?> list => list,
            string s => JinjaValues.Characters(s),
            JinjaUndefined u => throw Undefined(u, line, "cannot be sliced"),
            _ => throw new JinjaException($"{JinjaValues.TypeName(target)} cannot be sliced", line),
        };
        long n = items.Count;
        long st = Bound(step, 1, line);
        if (st == 0) throw new JinjaException("slice step cannot be zero", line);
        long lo, hi;
        if (st > 0)
        {
            lo = Clamp(Bound(start, 0, line), n, 0, n);
            hi = Clamp(Bound(stop, n, line), n, 0, n);
        }
        else
        {
            lo = Clamp(Bound(start, n - 1, line), n, -1, n - 1);
            hi = stop is null or JinjaUndefined ? -1 : Clamp(Bound(stop, -1, line), n, -1, n - 1);
        }

        var picked = new List<object?>();
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) picked.Add(items[(int)i]);
        return target is string ? string.Concat(picked.Select(JinjaValues.Str)) : picked;
    }

    private static long Bound(object? v, long fallback, int line) => v switch
    {
        null or JinjaUndefined => fallback,
        long or bool => JinjaValues.ToLong(v),
        _ => throw new JinjaException($"slice indices must be integers, not {JinjaValues.TypeName(v)}", line),
    };

    // Python's slice index rule: negative counts from the end, then clamped.
    private static long Clamp(long i, long n, long lo, long hi)
    {
        if (i < 0) i += n;
        return Math.Clamp(i, lo, hi);
    }

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        return (x % y != 0) && ((x < 0) != (y < 0)) ? q - 1 : q;
    }

    private static string Repeat(string s, long n) => n <= 0 ? "" : string.Concat(Enumerable.Repeat(s, (int)n));

    public static JinjaException Undefined(JinjaUndefined u, int line, string what = "is used in an operation") =>
        new($"'{u.Name}' is undefined and {what}", line);

    private static JinjaException DivideByZero(int line) => new("division by zero", line);
}
