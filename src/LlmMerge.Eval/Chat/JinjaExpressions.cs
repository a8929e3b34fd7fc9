namespace LlmMerge.Eval.Chat;

/// <summary>An expression of a parsed template, evaluated with Python's semantics as jinja2 compiles it.</summary>
internal abstract class JinjaExpr(int line)
{
    public int Line { get; } = line;

    public abstract object? Eval(JinjaScope scope);
}

internal sealed class ConstExpr(object? value, int line) : JinjaExpr(line)
{
    public object? Value { get; } = value;

    public override object? Eval(JinjaScope scope) => Value;
}

internal sealed class NameExpr(string name, int line) : JinjaExpr(line)
{
    public string Name { get; } = name;

    public override object? Eval(JinjaScope scope) => scope.Lookup(Name);
}

internal sealed class ListExpr(List<JinjaExpr> items, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope) => items.Select(i => i.Eval(scope)).ToList();
}

internal sealed class DictExpr(List<(JinjaExpr Key, JinjaExpr Value)> pairs, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope)
    {
        var d = JinjaValues.NewDict();
        foreach (var (k, v) in pairs)
        {
            object? key = k.Eval(scope);
            if (key is not string s) throw new JinjaException($"dict keys other than strings ({JinjaValues.TypeName(key)}) are not supported", Line);
            d[s] = v.Eval(scope);
        }

        return d;
    }
}

/// <summary><c>a if test else b</c>; without else an undefined value, as Jinja.</summary>
internal sealed class CondExpr(JinjaExpr test, JinjaExpr then, JinjaExpr? otherwise, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope) =>
        JinjaValues.Truthy(test.Eval(scope)) ? then.Eval(scope) : otherwise is null ? new JinjaUndefined("the else branch") : otherwise.Eval(scope);
}

/// <summary><c>and</c> / <c>or</c>: Python's, returning the deciding operand.</summary>
internal sealed class LogicExpr(bool isAnd, JinjaExpr left, JinjaExpr right, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope)
    {
        object? a = left.Eval(scope);
        return JinjaValues.Truthy(a) == isAnd ? right.Eval(scope) : a;
    }
}

internal sealed class NotExpr(JinjaExpr operand, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope) => !JinjaValues.Truthy(operand.Eval(scope));
}

internal sealed class NegExpr(JinjaExpr operand, bool negate, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope)
    {
        object? v = operand.Eval(scope);
        return v switch
        {
            long l => (object)(negate ? -l : l),
            bool b => negate ? -(b ? 1L : 0L) : (b ? 1L : 0L),
            double d => negate ? -d : d,
            _ => throw new JinjaException($"bad operand for unary {(negate ? "-" : "+")}: {JinjaValues.TypeName(v)}", Line),
        };
    }
}

/// <summary>A chain of comparisons (<c>a &lt; b == c</c>, <c>x in y</c>, <c>x not in y</c>), each pair compared in turn, as Python.</summary>
internal sealed class CompareExpr(JinjaExpr first, List<(string Op, JinjaExpr Operand)> rest, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope)
    {
        object? left = first.Eval(scope);
        foreach (var (op, operand) in rest)
        {
            object? right = operand.Eval(scope);
            if (!JinjaOperators.Compare(op, left, right, Line)) return false;
            left = right;
        }

        return true;
    }
}

internal sealed class BinaryExpr(string op, JinjaExpr left, JinjaExpr right, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope) => JinjaOperators.Binary(op, left.Eval(scope), right.Eval(scope), Line);
}

/// <summary><c>obj.name</c>: an attribute, else a key (jinja2's getattr order); methods of strings and dicts come bound.</summary>
internal sealed class AttrExpr(JinjaExpr target, string name, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope) => JinjaOperators.GetAttr(target.Eval(scope), name, Line);
}

/// <summary><c>obj[key]</c>: a key or index, else an attribute (jinja2's getitem order).</summary>
internal sealed class ItemExpr(JinjaExpr target, JinjaExpr key, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope) => JinjaOperators.GetItem(target.Eval(scope), key.Eval(scope), Line);
}

/// <summary><c>obj[start:stop:step]</c> with Python's slice rules.</summary>
internal sealed class SliceExpr(JinjaExpr target, JinjaExpr? start, JinjaExpr? stop, JinjaExpr? step, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope) =>
        JinjaOperators.Slice(target.Eval(scope), start?.Eval(scope), stop?.Eval(scope), step?.Eval(scope), Line);
}

internal sealed class CallExpr(JinjaExpr target, List<JinjaExpr> args, List<(string Name, JinjaExpr Value)> kwargs, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope)
    {
        object? f = target.Eval(scope);
        if (f is not JinjaCallable callable)
        {
            string what = target is NameExpr n ? $"'{n.Name}'" : target is AttrExpr ? "that attribute" : "that value";
            throw new JinjaException(f is JinjaUndefined u
                ? $"'{u.Name}' is not a function llmmerge's template renderer provides"
                : $"{what} ({JinjaValues.TypeName(f)}) cannot be called", Line);
        }

        var positional = args.Select(a => a.Eval(scope)).ToList();
        var named = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in kwargs) named[name] = value.Eval(scope);
        return callable.Invoke(positional, named, Line);
    }
}

/// <summary><c>value | name(args)</c>.</summary>
internal sealed class FilterExpr(JinjaExpr value, string name, List<JinjaExpr> args, List<(string Name, JinjaExpr Value)> kwargs, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope)
    {
        object? v = value.Eval(scope);
        var positional = args.Select(a => a.Eval(scope)).ToList();
        var named = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (n, e) in kwargs) named[n] = e.Eval(scope);
        return JinjaFilters.Apply(name, v, positional, named, Line);
    }
}

/// <summary><c>value is [not] name(args)</c>.</summary>
internal sealed class TestExpr(JinjaExpr value, string name, List<JinjaExpr> args, bool negated, int line) : JinjaExpr(line)
{
    public override object? Eval(JinjaScope scope)
    {
        object? v = value.Eval(scope);
        var positional = args.Select(a => a.Eval(scope)).ToList();
        return JinjaTests.Apply(name, v, positional, Line) != negated;
    }
}
