using LlmMerge.Eval.Chat;

namespace LlmMerge.Tests.Chat;

/// <summary>The renderer's whitespace rules, expressions and refusals, each expected value worked out from jinja2's rules.</summary>
public class JinjaTemplateTests
{
    private static string Render(string template, Dictionary<string, object?>? variables = null) =>
        JinjaTemplate.Parse(template).Render(variables ?? []);

    [Test]
    public void TrimBlocksDropsTheNewlineAfterABlockTagAndLstripBlocksTheIndentBeforeIt()
    {
        var xs = new Dictionary<string, object?> { ["xs"] = new List<object?> { 1L, 2L } };
        // Indentation before {{ stays (lstrip_blocks is for {% only); the newline after each %} goes.
        Assert.That(Render("{% for x in xs %}\n    {{ x }}\n{% endfor %}", xs), Is.EqualTo("    1\n    2\n"));
        Assert.That(Render("  {% if true %}yes{% endif %}\n"), Is.EqualTo("yes"), "one trailing newline of the template is dropped");
        Assert.That(Render("a  {% if true %}b{% endif %}"), Is.EqualTo("a  b"), "lstrip only at the start of a line");
        Assert.That(Render("a\n  {%+ if true %}b{% endif +%}\nc"), Is.EqualTo("a\n  b\nc"), "+ keeps the whitespace on either side");
        Assert.That(Render("a \n {{- 'b' -}} \n c"), Is.EqualTo("abc"));
        Assert.That(Render("{# note #}\nx{#- x -#}  y"), Is.EqualTo("xy"));
        Assert.That(Render("a\r\nb\r\n\n"), Is.EqualTo("a\nb\n"), "line endings become \\n and only one trailing newline goes");
    }

    [Test]
    public void FiltersBindTighterThanPlusAndTestsTighterThanNot()
    {
        var v = new Dictionary<string, object?> { ["s"] = "  x  " };
        Assert.That(Render("{{ '[' + s | trim + ']' }}", v), Is.EqualTo("[x]"));
        Assert.That(Render("{{ not y is defined }}|{{ s is defined }}|{{ y is not defined }}", v), Is.EqualTo("True|True|True"));
        Assert.That(Render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }}"), Is.EqualTo("3 -4 2 3.5 1024 7"));
        Assert.That(Render("{{ 'a' ~ 1 ~ none }}"), Is.EqualTo("a1None"));
        Assert.That(Render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'b' in 'abc' }} {{ 2 not in [1, 3] }}"), Is.EqualTo("True False True True"));
        Assert.That(Render("{{ 'yes' if false }}|{{ 'a' if 0 else 'b' }}|{{ [] or 'empty' }}|{{ 'x' and 'y' }}"), Is.EqualTo("|b|empty|y"));
    }

    [Test]
    public void LoopVariablesNamespacesAndLoopControls()
    {
        var v = new Dictionary<string, object?> { ["xs"] = new List<object?> { "a", "b", "c", "d" } };
        Assert.That(Render("{% for x in xs %}{{ loop.index }}{{ x }}{{ loop.revindex0 }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %},{% endfor %}", v),
            Is.EqualTo("1a3F,2b2,3c1,4d0L,"));
        Assert.That(Render("{% for x in xs if x != 'b' %}{{ loop.index0 }}/{{ loop.length }}{{ x }} {% endfor %}", v), Is.EqualTo("0/3a 1/3c 2/3d "));
        Assert.That(Render("{% for x in xs %}{% if x == 'c' %}{% break %}{% endif %}{% if x == 'a' %}{% continue %}{% endif %}{{ x }}{% endfor %}", v), Is.EqualTo("b"));
        Assert.That(Render("{% for x in [] %}x{% else %}none{% endfor %}"), Is.EqualTo("none"));
        Assert.That(Render("{% for x in xs %}{{ loop.previtem }}{{ loop.nextitem is defined }} {% endfor %}", v), Is.EqualTo("True aTrue bTrue cFalse "));

        // A set inside a loop does not outlive it; a namespace attribute does.
        Assert.That(Render("{% set n = 0 %}{% set ns = namespace(n=0) %}{% for x in xs %}{% set n = n + 1 %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ n }} {{ ns.n }}", v),
            Is.EqualTo("0 4"));
        Assert.That(Render("{% set a, b = [1, 2] %}{{ b }}{{ a }}{% set t %}x{{ a }}{% endset %}{{ t }}"), Is.EqualTo("21x1"));
        Assert.That(Render("{% for k, v in {'p': 1, 'q': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), Is.EqualTo("p=1;q=2;"));
        Assert.That(Render("{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}"), Is.EqualTo("012531"));
    }

    [Test]
    public void StringMethodsSlicesAndItemsFollowPython()
    {
        var v = new Dictionary<string, object?>
        {
            ["m"] = new Dictionary<string, object?> { ["role"] = "user", ["content"] = " Hi there " },
            ["xs"] = new List<object?> { 1L, 2L, 3L, 4L },
        };
        Assert.That(Render("{{ m.content.strip() }}|{{ m['content'].lstrip() }}|{{ m.role.upper() }}|{{ m.content.split() }}|{{ 'a,b'.split(',') }}", v),
            Is.EqualTo("Hi there|Hi there |USER|['Hi', 'there']|['a', 'b']"));
        Assert.That(Render("{{ m.role.startswith('us') }} {{ m.role.endswith(('x', 'er')) }} {{ 'hello world'.title() }} {{ 'aXb'.replace('X', '-') }}", v),
            Is.EqualTo("True True Hello World a-b"));
        Assert.That(Render("{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[-1] }} {{ 'abc'[1:] }} {{ xs[10] is defined }}", v),
            Is.EqualTo("[2, 3, 4] [1, 2, 3] [4, 3, 2, 1] 4 bc False"));
        Assert.That(Render("{{ m.missing is defined }} {{ m.get('missing', 'd') }} {{ m.get('role') }}", v), Is.EqualTo("False d user"));
    }

    [Test]
    public void FiltersFollowJinjaAndTransformersTojson()
    {
        var v = new Dictionary<string, object?>
        {
            ["msgs"] = new List<object?>
            {
                new Dictionary<string, object?> { ["role"] = "system", ["content"] = "s" },
                new Dictionary<string, object?> { ["role"] = "user", ["content"] = "u1" },
                new Dictionary<string, object?> { ["role"] = "user", ["content"] = "u2" },
            },
            ["d"] = new Dictionary<string, object?> { ["b"] = 1L, ["a"] = new List<object?> { true, null, 1.5, "é\"\n" } },
        };
        Assert.That(Render("{{ msgs | length }} {{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }} {{ msgs | rejectattr('role', 'eq', 'user') | list | length }}", v),
            Is.EqualTo("3 u1,u2 1"));
        Assert.That(Render("{{ d | tojson }}", v), Is.EqualTo("{\"b\": 1, \"a\": [true, null, 1.5, \"é\\\"\\n\"]}"));
        Assert.That(Render("{{ d | tojson(indent=2, sort_keys=true) }}", v),
            Is.EqualTo("{\n  \"a\": [\n    true,\n    null,\n    1.5,\n    \"é\\\"\\n\"\n  ],\n  \"b\": 1\n}"));
        Assert.That(Render("{{ 'Ab' | lower }}{{ 'ab' | upper }}{{ missing | default('x') }}{{ '' | default('y', true) }}{{ [3, 1, 2] | first }}{{ [3, 1, 2] | last }}{{ '42' | int + 1 }}"),
            Is.EqualTo("abABxy3243"));
        Assert.That(Render("{{ 'a\nb' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}"), Is.EqualTo("a\n  b|  a\n  b"));
    }

    [Test]
    public void RaiseExceptionCarriesTheTemplatesMessageAndLine()
    {
        var e = Assert.Throws<JinjaRaisedException>(() => Render("x\n{% if true %}\n{{ raise_exception('no ' + 'way') }}{% endif %}"));
        Assert.That(e!.Message, Is.EqualTo("no way"));
        Assert.That(e.Line, Is.EqualTo(3));
    }

    [TestCase("a\n{% macro m() %}x{% endmacro %}", 2, "the 'macro' statement is not supported")]
    [TestCase("{% include 'x.jinja' %}", 1, "the 'include' statement is not supported")]
    [TestCase("{% raw %}x{% endraw %}", 1, "the 'raw' statement is not supported")]
    [TestCase("{% for x in y recursive %}{% endfor %}", 1, "recursive for loops are not supported")]
    [TestCase("\n\n{{ x | wordwrap(3) }}", 3, "the filter 'wordwrap' is not supported")]
    [TestCase("{% if x is odd_number %}{% endif %}", 1, "the test 'odd_number' is not supported")]
    [TestCase("{% if x %}", 1, "the template ends before '{% endif %}'")]
    [TestCase("{% endfor %}", 1, "unexpected '{% endfor %}'")]
    [TestCase("{% break %}", 1, "'break' outside a loop")]
    [TestCase("{{ x\n", 1, "'{{' is never closed with '}}'")]
    [TestCase("{{ '%s' % x }}", 1, "string formatting with '%' is not supported")]
    [TestCase("{{ f(*args) }}", 1, "*args and **kwargs in calls are not supported")]
    public void UnsupportedConstructsAreRefusedByNameWithTheirLine(string template, int line, string message)
    {
        var e = Assert.Catch<JinjaException>(() => Render(template, new() { ["x"] = "s" }));
        Assert.That(e!.Message, Does.StartWith(message));
        Assert.That(e.Line, Is.EqualTo(line));
        Assert.That(e.Message, Does.Not.Contain("\n"), "one line");
    }

    [Test]
    public void UndefinedValuesPrintAsNothingButFailWhenUsed()
    {
        Assert.That(Render("[{{ nothing }}]{{ nothing | length }}{% for x in nothing %}x{% endfor %}"), Is.EqualTo("[]0"));
        var e = Assert.Throws<JinjaException>(() => Render("\n{{ nothing.attr }}"));
        Assert.That(e!.Message, Is.EqualTo("'nothing' is undefined and has no attribute 'attr'"));
        Assert.That(e.Line, Is.EqualTo(2));
        Assert.That(Assert.Throws<JinjaException>(() => Render("{{ nothing + 'x' }}"))!.Message, Does.Contain("'nothing' is undefined"));
        Assert.That(Assert.Throws<JinjaException>(() => Render("{{ [1].append(2) }}"))!.Message, Does.Contain("immutable sandbox"));
    }
}
