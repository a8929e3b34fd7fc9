namespace LlmMerge.Eval.Chat;

/// <summary>What a <see cref="JinjaToken"/> is.</summary>
public enum JinjaTokenKind
{
    /// <summary>Template text outside any tag, whitespace control already applied.</summary>
    Data,

    /// <summary><c>{{</c>: an expression whose value is printed follows, up to <see cref="VariableEnd"/>.</summary>
    VariableBegin,

    VariableEnd,

    /// <summary><c>{%</c>: a statement follows, up to <see cref="BlockEnd"/>.</summary>
    BlockBegin,

    BlockEnd,

    Name,

    /// <summary>A string literal, escapes already decoded.</summary>
    String,

    Integer,

    Float,

    /// <summary>An operator or punctuation: + - * / // % ** ~ ( ) [ ] { } , . : | = == != &lt; &lt;= &gt; &gt;=.</summary>
    Operator,

    End,
}

/// <summary>One token of a template, with the line it starts on.</summary>
public readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, int Line)
{
    public bool Is(JinjaTokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsName(string name) => Kind == JinjaTokenKind.Name && Value == name;

    public bool IsOperator(string op) => Kind == JinjaTokenKind.Operator && Value == op;

    public override string ToString() => Kind switch
    {
        JinjaTokenKind.End => "the end of the template",
        JinjaTokenKind.Data => "template text",
        JinjaTokenKind.BlockEnd => "'%}'",
        JinjaTokenKind.VariableEnd => "'}}'",
        JinjaTokenKind.String => "a string",
        _ => $"'{Value}'",
    };
}
