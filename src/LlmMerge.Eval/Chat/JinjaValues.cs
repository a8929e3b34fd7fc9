using System.Collections;

namespace LlmMerge.Eval.Chat;

/// <summary>
/// Jinja's lenient <c>Undefined</c> (the one transformers' ImmutableSandboxedEnvironment uses): prints as nothing,
/// is false, iterates as empty, and is an error as soon as an attribute of it or arithmetic on it is asked for.
/// </summary>
public sealed class JinjaUndefined
{
    public JinjaUndefined(string name) => Name = name;

    /// <summary>What was looked up (for the error message when it is used).</summary>
    public string Name { get; }

    public override string ToString() => "";
}

/// <summary>Jinja's <c>namespace(...)</c>: a mutable bag of attributes that <c>{% set ns.x = ... %}</c> may write from inside a loop.</summary>
public sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>A callable value: a global function (raise_exception, namespace, range), a bound method or <c>loop.cycle</c>.</summary>
/// <param name="Name">Its name, for messages.</param>
/// <param name="Invoke">Positional and keyword arguments, and the line of the call, to the result.</param>
public sealed record JinjaCallable(string Name, Func<List<object?>, Dictionary<string, object?>, int, object?> Invoke);

/// <summary>The <c>loop</c> variable inside a <c>{% for %}</c>: Jinja's LoopContext attributes.</summary>
public sealed class JinjaLoop
{
    private readonly IReadOnlyList<object?> _items;

    public JinjaLoop(IReadOnlyList<object?> items) => _items = items;

    /// <summary>0-based position of the current item.</summary>
    public int Index0 { get; set; }

    public object? Attribute(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)Index0 + 1,
        "revindex0" => (long)(_items.Count - Index0 - 1),
        "revindex" => (long)(_items.Count - Index0),
        "first" => Index0 == 0,
        "last" => Index0 == _items.Count - 1,
        "length" => (long)_items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? _items[Index0 - 1] : new JinjaUndefined("loop.previtem"),
        "nextitem" => Index0 + 1 < _items.Count ? _items[Index0 + 1] : new JinjaUndefined("loop.nextitem"),
        "cycle" => new JinjaCallable("loop.cycle", (args, _, line) =>
            args.Count == 0 ? throw new JinjaException("loop.cycle() needs at least one value", line) : args[Index0 % args.Count]),
        _ => new JinjaUndefined("loop." + name),
    };
}

/// <summary>The values templates compute with, and Python's rules for them (truth, equality, str, len, iteration).</summary>
public static class JinjaValues
{
    /// <summary>Python's bool(x).</summary>
    public static bool Truthy(object? v) => v switch
    {
        null => false,
        JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        ICollection c => c.Count > 0,
        IDictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    /// <summary>Python's str(x) as Jinja prints it: None is "None", undefined is empty, lists and dicts by repr.</summary>
    public static string Str(object? v) => v switch
    {
        JinjaUndefined => "",
        string s => s,
        JinjaNamespace => "<Namespace>",
        JinjaLoop => "<LoopContext>",
        JinjaCallable c => $"<function {c.Name}>",
        _ => Repr(v),
    };

    /// <summary>Python's repr(x).</summary>
    public static string Repr(object? v) => v switch
    {
        JinjaUndefined => "",
        List<object?> list => "[" + string.Join(", ", list.Select(Repr)) + "]",
        IDictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => Tasks.PythonLiteral.Repr(kv.Key) + ": " + Repr(kv.Value))) + "}",
        _ => Tasks.PythonLiteral.Repr(v),
    };

    /// <summary>A Python type name, for messages.</summary>
    public static string TypeName(object? v) => v switch
    {
        null => "None",
        JinjaUndefined u => $"undefined '{u.Name}'",
        bool => "a bool",
        long => "an integer",
        double => "a float",
        string => "a string",
        List<object?> => "a list",
        IDictionary<string, object?> => "a dict",
        JinjaNamespace => "a namespace",
        JinjaLoop => "a loop",
        JinjaCallable c => $"the function {c.Name}",
        _ => v.GetType().Name,
    };

    /// <summary>Python's == (1 == 1.0 == True; lists and dicts element by element; two undefined values are equal, as Jinja's Undefined.__eq__ says).</summary>
    public static bool Equal(object? a, object? b)
    {
        if (a is JinjaUndefined || b is JinjaUndefined) return a is JinjaUndefined && b is JinjaUndefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b) && (a is double || b is double || ToLong(a) == ToLong(b));
        if (a is string sa && b is string sb) return string.Equals(sa, sb, StringComparison.Ordinal);
        if (a is List<object?> la && b is List<object?> lb) return la.Count == lb.Count && la.Zip(lb).All(p => Equal(p.First, p.Second));
        if (a is IDictionary<string, object?> da && b is IDictionary<string, object?> db)
            return da.Count == db.Count && da.All(kv => db.TryGetValue(kv.Key, out object? other) && Equal(kv.Value, other));
        return ReferenceEquals(a, b);
    }

    /// <summary>Whether the value is a Python int, float or bool (bool is an int in Python).</summary>
    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    public static long ToLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new InvalidCastException(),
    };

    /// <summary>Python's iteration: a list's items, a dict's keys, a string's characters; undefined is empty.</summary>
    public static List<object?>? Iterate(object? v) => v switch
    {
        JinjaUndefined => [],
        List<object?> list => list,
        IDictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
        string s => Characters(s),
        _ => null,
    };

    /// <summary>Python's len(): code points of a string, items of a list or dict; undefined is 0.</summary>
    public static long? Length(object? v) => v switch
    {
        JinjaUndefined => 0,
        string s => Scoring.ChoiceMetrics.CodePoints(s),
        List<object?> list => list.Count,
        IDictionary<string, object?> d => d.Count,
        _ => null,
    };

    /// <summary>A string's characters as Python sees them: code points, each a string.</summary>
    public static List<object?> Characters(string s)
    {
        var list = new List<object?>(s.Length);
        foreach (System.Text.Rune r in s.EnumerateRunes()) list.Add(r.ToString());
        return list;
    }

    /// <summary>A dict of the template's own kind (insertion-ordered, as Python's).</summary>
    public static OrderedDictionary<string, object?> NewDict() => new(StringComparer.Ordinal);
}
