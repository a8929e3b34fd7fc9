namespace LlmMerge.Eval.Chat;

/// <summary>The tests of <c>x is name</c> (jinja2/tests.py) that chat templates use; any other name is an error that names it.</summary>
internal static class JinjaTests
{
    public static readonly IReadOnlyList<string> Names =
    [
        "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "mapping", "iterable", "sequence",
        "true", "false", "even", "odd", "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "<", "le", "<=", "gt", ">",
        "ge", ">=", "in", "sameas", "callable", "lower", "upper",
    ];

    public static bool Apply(string name, object? v, List<object?> args, int line)
    {
        object? Arg() => args.Count > 0 ? args[0] : throw new JinjaException($"the test '{name}' needs an argument", line);
        switch (name)
        {
            case "defined": return v is not JinjaUndefined;
            case "undefined": return v is JinjaUndefined;
            case "none": return v is null;
            case "string": return v is string;
            case "number": return v is long or double;
            case "integer": return v is long;
            case "float": return v is double;
            case "boolean": return v is bool;
            case "true": return v is true;
            case "false": return v is false;
            case "mapping": return v is IDictionary<string, object?> or IReadOnlyDictionary<string, object?> or JinjaNamespace;
            case "iterable": return v is string or List<object?> or IDictionary<string, object?> or JinjaUndefined;
            case "sequence": return v is string or List<object?> or IDictionary<string, object?>;
            case "callable": return v is JinjaCallable;
            case "even": return v is long or bool && JinjaValues.ToLong(v) % 2 == 0;
            case "odd": return v is long or bool && JinjaValues.ToLong(v) % 2 != 0;
            case "divisibleby":
                return JinjaValues.IsNumber(v) && JinjaValues.IsNumber(Arg()) && JinjaValues.ToLong(Arg()) != 0 && JinjaValues.ToLong(v) % JinjaValues.ToLong(Arg()) == 0;
            case "eq" or "equalto" or "==": return JinjaValues.Equal(v, Arg());
            case "ne" or "!=": return !JinjaValues.Equal(v, Arg());
            case "lt" or "<": return JinjaOperators.Compare("<", v, Arg(), line);
            case "le" or "<=": return JinjaOperators.Compare("<=", v, Arg(), line);
            case "gt" or ">": return JinjaOperators.Compare(">", v, Arg(), line);
            case "ge" or ">=": return JinjaOperators.Compare(">=", v, Arg(), line);
            case "in": return JinjaOperators.Contains(Arg(), v, line);
            case "sameas": return ReferenceEquals(v, Arg()) || (v is null && Arg() is null) || (v is bool a && Arg() is bool b && a == b);
            case "lower": return v is string ls && string.Equals(ls, ls.ToLowerInvariant(), StringComparison.Ordinal);
            case "upper": return v is string us && string.Equals(us, us.ToUpperInvariant(), StringComparison.Ordinal);
            default:
                throw new JinjaException($"the test '{name}' is not supported by llmmerge's template renderer (supported: {string.Join(", ", Names.Where(n => char.IsLetter(n[0])))})", line);
        }
    }
}
