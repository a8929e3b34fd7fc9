namespace LlmMerge.Eval.Chat;

/// <summary>
/// A template that cannot be parsed or rendered: the message names the construct and <see cref="Line"/> the line of
/// the template it is on (1-based), so the caller can say which file and where.
/// </summary>
public class JinjaException : Exception
{
    public JinjaException(string message, int line)
        : base(message)
    {
        Line = line;
    }

    public JinjaException()
    {
    }

    public JinjaException(string message)
        : base(message)
    {
    }

    public JinjaException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The template line (1-based) the problem is on.</summary>
    public int Line { get; }
}

/// <summary>
/// The template called <c>raise_exception(message)</c> (transformers' TemplateError): the template itself refuses the
/// conversation, e.g. Gemma's "System role not supported". lm-eval retries such a render without system messages.
/// </summary>
public sealed class JinjaRaisedException : JinjaException
{
    public JinjaRaisedException(string message, int line)
        : base(message, line)
    {
    }

    public JinjaRaisedException()
    {
    }

    public JinjaRaisedException(string message)
        : base(message)
    {
    }

    public JinjaRaisedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
