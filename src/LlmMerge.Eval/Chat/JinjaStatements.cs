using System.Text;

namespace LlmMerge.Eval.Chat;

/// <summary>A statement of a parsed template; rendering appends to the output and says whether a loop should break or continue.</summary>
internal abstract class JinjaStatement(int line)
{
    public int Line { get; } = line;

    public abstract JinjaFlow Render(JinjaScope scope, StringBuilder output);

    public static JinjaFlow RenderAll(List<JinjaStatement> body, JinjaScope scope, StringBuilder output)
    {
        foreach (JinjaStatement s in body)
        {
            JinjaFlow flow = s.Render(scope, output);
            if (flow != JinjaFlow.Normal) return flow;
        }

        return JinjaFlow.Normal;
    }
}

internal sealed class TextStatement(string text, int line) : JinjaStatement(line)
{
    public override JinjaFlow Render(JinjaScope scope, StringBuilder output)
    {
        output.Append(text);
        return JinjaFlow.Normal;
    }
}

/// <summary><c>{{ expression }}</c>: the value printed as Python's str() (undefined prints nothing).</summary>
internal sealed class PrintStatement(JinjaExpr expr, int line) : JinjaStatement(line)
{
    public override JinjaFlow Render(JinjaScope scope, StringBuilder output)
    {
        output.Append(JinjaValues.Str(expr.Eval(scope)));
        return JinjaFlow.Normal;
    }
}

internal sealed class IfStatement(List<(JinjaExpr Test, List<JinjaStatement> Body)> branches, List<JinjaStatement>? otherwise, int line) : JinjaStatement(line)
{
    public override JinjaFlow Render(JinjaScope scope, StringBuilder output)
    {
        foreach (var (test, body) in branches)
        {
            if (JinjaValues.Truthy(test.Eval(scope))) return RenderAll(body, scope, output);
        }

        return otherwise is null ? JinjaFlow.Normal : RenderAll(otherwise, scope, output);
    }
}

/// <summary><c>{% for a[, b] in items [if test] %}...[{% else %}...]{% endfor %}</c>, with the <c>loop</c> variable and loopcontrols.</summary>
internal sealed class ForStatement(List<string> targets, JinjaExpr items, JinjaExpr? filter, List<JinjaStatement> body, List<JinjaStatement>? otherwise, int line)
    : JinjaStatement(line)
{
    public override JinjaFlow Render(JinjaScope scope, StringBuilder output)
    {
        object? source = items.Eval(scope);
        List<object?> values = JinjaValues.Iterate(source)
            ?? throw new JinjaException($"cannot loop over {JinjaValues.TypeName(source)}", Line);
        if (filter is not null)
        {
            // The inline filter runs before the loop, so loop.length and loop.last count only the kept items.
            values = values.Where(v =>
            {
                var probe = new JinjaScope(scope);
                Bind(probe, v);
                return JinjaValues.Truthy(filter.Eval(probe));
            }).ToList();
        }

        if (values.Count == 0)
            return otherwise is null ? JinjaFlow.Normal : RenderAll(otherwise, scope, output);
        var loop = new JinjaLoop(values);
        for (int i = 0; i < values.Count; i++)
        {
            loop.Index0 = i;
            var inner = new JinjaScope(scope);
            inner.Set("loop", loop);
            Bind(inner, values[i]);
            if (RenderAll(body, inner, output) == JinjaFlow.Break) break;
        }

        return JinjaFlow.Normal;
    }

    private void Bind(JinjaScope scope, object? value)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], value);
            return;
        }

        if (value is not List<object?> parts || parts.Count != targets.Count)
            throw new JinjaException($"cannot unpack {JinjaValues.TypeName(value)} into {targets.Count} loop variables ({string.Join(", ", targets)})", Line);
        for (int i = 0; i < targets.Count; i++) scope.Set(targets[i], parts[i]);
    }
}

/// <summary><c>{% set name = value %}</c>, <c>{% set a, b = pair %}</c> or <c>{% set ns.attr = value %}</c>.</summary>
internal sealed class SetStatement(List<string> targets, string? attribute, JinjaExpr value, int line) : JinjaStatement(line)
{
    public override JinjaFlow Render(JinjaScope scope, StringBuilder output)
    {
        object? v = value.Eval(scope);
        if (attribute is not null)
        {
            object? target = scope.Lookup(targets[0]);
            if (target is not JinjaNamespace ns)
                throw new JinjaException($"cannot set '{attribute}' on {JinjaValues.TypeName(target)} '{targets[0]}'; only a namespace() takes attributes", Line);
            ns.Attributes[attribute] = v;
            return JinjaFlow.Normal;
        }

        if (targets.Count == 1)
        {
            scope.Set(targets[0], v);
            return JinjaFlow.Normal;
        }

        if (v is not List<object?> parts || parts.Count != targets.Count)
            throw new JinjaException($"cannot unpack {JinjaValues.TypeName(v)} into {targets.Count} names ({string.Join(", ", targets)})", Line);
        for (int i = 0; i < targets.Count; i++) scope.Set(targets[i], parts[i]);
        return JinjaFlow.Normal;
    }
}

/// <summary><c>{% set name %}...{% endset %}</c>: the rendered body as a string.</summary>
internal sealed class SetBlockStatement(string name, List<JinjaStatement> body, int line) : JinjaStatement(line)
{
    public override JinjaFlow Render(JinjaScope scope, StringBuilder output)
    {
        var sb = new StringBuilder();
        RenderAll(body, scope, sb);
        scope.Set(name, sb.ToString());
        return JinjaFlow.Normal;
    }
}

internal sealed class LoopControlStatement(JinjaFlow flow, int line) : JinjaStatement(line)
{
    public override JinjaFlow Render(JinjaScope scope, StringBuilder output) => flow;
}

/// <summary>
/// transformers' <c>{% generation %}...{% endgeneration %}</c> (its AssistantTracker extension marks assistant text
/// for training masks); rendering is the body as it is.
/// </summary>
internal sealed class BodyStatement(List<JinjaStatement> body, int line) : JinjaStatement(line)
{
    public override JinjaFlow Render(JinjaScope scope, StringBuilder output) => RenderAll(body, scope, output);
}
