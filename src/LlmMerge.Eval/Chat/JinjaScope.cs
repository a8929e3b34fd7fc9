namespace LlmMerge.Eval.Chat;

/// <summary>
/// Variables as Jinja scopes them: the template's globals and arguments at the root; each pass of a
/// <c>{% for %}</c> body gets its own scope, so a <c>{% set %}</c> inside a loop does not outlive it (which is why
/// templates use <c>namespace()</c>); <c>{% if %}</c> makes no scope.
/// </summary>
internal sealed class JinjaScope
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);
    private readonly JinjaScope? _parent;

    public JinjaScope(JinjaScope? parent = null) => _parent = parent;

    public object? Lookup(string name)
    {
        for (JinjaScope? s = this; s is not null; s = s._parent)
        {
            if (s._vars.TryGetValue(name, out object? v)) return v;
        }

        return new JinjaUndefined(name);
    }

    public void Set(string name, object? value) => _vars[name] = value;
}

/// <summary>What a statement asks of the loop around it.</summary>
internal enum JinjaFlow
{
    Normal,
    Break,
    Continue,
}
