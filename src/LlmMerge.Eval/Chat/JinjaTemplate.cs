using System.Globalization;
using System.Text;

namespace LlmMerge.Eval.Chat;

/// <summary>
/// A Jinja template parsed once and rendered many times, covering what Hugging Face chat templates use: for, if,
/// set, namespace(), loop.*, break/continue, filters (trim, tojson, length, upper, lower, replace, ...), tests
/// (defined, none, string, ...), Python string and dict methods, raise_exception and range, rendered with
/// transformers' environment settings (trim_blocks, lstrip_blocks, its tojson; see <see cref="JinjaLexer"/>). What it
/// does not cover is refused when parsing or rendering with a <see cref="JinjaException"/> that names the
/// construct and its line.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly List<JinjaStatement> _body;

    private JinjaTemplate(string source, List<JinjaStatement> body)
    {
        Source = source;
        _body = body;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>Parses <paramref name="source"/>; a <see cref="JinjaException"/> names what is wrong and its line.</summary>
    public static JinjaTemplate Parse(string source) => new(source, JinjaParser.Parse(source));

    /// <summary>
    /// Renders with <paramref name="variables"/> (values: null, bool, long, double, string, lists of values, and
    /// string-keyed dictionaries of values) and the globals transformers provides.
    /// </summary>
    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var root = new JinjaScope();
        foreach (var (name, value) in Globals) root.Set(name, value);
        var scope = new JinjaScope(root);
        foreach (var (name, value) in variables) scope.Set(name, value);
        var output = new StringBuilder();
        JinjaStatement.RenderAll(_body, scope, output);
        return output.ToString();
    }

    private static readonly Dictionary<string, object?> Globals = new(StringComparer.Ordinal)
    {
        ["raise_exception"] = new JinjaCallable("raise_exception", (args, _, line) =>
            throw new JinjaRaisedException(args.Count > 0 ? JinjaValues.Str(args[0]) : "raise_exception() was called", line)),
        ["namespace"] = new JinjaCallable("namespace", (args, kwargs, line) =>
        {
            var ns = new JinjaNamespace();
            foreach (object? a in args)
            {
                if (a is not IDictionary<string, object?> d) throw new JinjaException("namespace() takes a dict or keyword arguments", line);
                foreach (var (k, v) in d) ns.Attributes[k] = v;
            }

            foreach (var (k, v) in kwargs) ns.Attributes[k] = v;
            return ns;
        }),
        ["dict"] = new JinjaCallable("dict", (args, kwargs, line) =>
        {
            if (args.Count > 0) throw new JinjaException("dict() takes keyword arguments only here", line);
            var d = JinjaValues.NewDict();
            foreach (var (k, v) in kwargs) d[k] = v;
            return d;
        }),
        ["range"] = new JinjaCallable("range", (args, _, line) =>
        {
            if (args.Count is 0 or > 3 || args.Any(a => a is not (long or bool)))
                throw new JinjaException("range() takes one to three integers", line);
            long start = args.Count > 1 ? JinjaValues.ToLong(args[0]) : 0;
            long stop = JinjaValues.ToLong(args.Count > 1 ? args[1] : args[0]);
            long step = args.Count > 2 ? JinjaValues.ToLong(args[2]) : 1;
            if (step == 0) throw new JinjaException("range() step must not be zero", line);
            var list = new List<object?>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step)
            {
                list.Add(i);
                if (list.Count > 1_000_000) throw new JinjaException("range() is too long", line);
            }

            return list;
        }),
        ["strftime_now"] = new JinjaCallable("strftime_now", (args, _, line) =>
            Strftime(DateTime.Now, args.Count > 0 ? JinjaValues.Str(args[0]) : throw new JinjaException("strftime_now() needs a format", line), line)),
    };

    // The strftime directives chat templates print dates with (Llama 3.1's "%d %b %Y").
    private static string Strftime(DateTime t, string format, int line)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }

            char d = format[++i];
            sb.Append(d switch
            {
                'd' => t.ToString("dd", CultureInfo.InvariantCulture),
                'm' => t.ToString("MM", CultureInfo.InvariantCulture),
                'Y' => t.ToString("yyyy", CultureInfo.InvariantCulture),
                'y' => t.ToString("yy", CultureInfo.InvariantCulture),
                'b' => t.ToString("MMM", CultureInfo.InvariantCulture),
                'B' => t.ToString("MMMM", CultureInfo.InvariantCulture),
                'a' => t.ToString("ddd", CultureInfo.InvariantCulture),
                'A' => t.ToString("dddd", CultureInfo.InvariantCulture),
                'H' => t.ToString("HH", CultureInfo.InvariantCulture),
                'M' => t.ToString("mm", CultureInfo.InvariantCulture),
                'S' => t.ToString("ss", CultureInfo.InvariantCulture),
                'j' => t.DayOfYear.ToString("000", CultureInfo.InvariantCulture),
                '%' => "%",
                _ => throw new JinjaException($"strftime_now: the directive %{d} is not supported", line),
            });
        }

        return sb.ToString();
    }
}
