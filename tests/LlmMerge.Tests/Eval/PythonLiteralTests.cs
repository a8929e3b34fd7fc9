using LlmMerge.Eval.Tasks;

namespace LlmMerge.Tests.Eval;

public class PythonLiteralTests
{
    [Test]
    public void ReadsSingleAndDoubleQuotedItemsWithEscapes()
    {
        var items = PythonLiteral.ParseStringList("""['it\'s', "say \"hi\"", 'tab\there', "back\\slash", 'new\nline', '\x41\u00e9', 'a' "b"]""");
        Assert.That(items, Is.EqualTo(new[] { "it's", "say \"hi\"", "tab\there", "back\\slash", "new\nline", "Aé", "ab" }));
    }

    [Test]
    public void ReadsTuplesNumbersAndConstants()
    {
        var value = (List<object?>)PythonLiteral.Parse("(1, -2.5, True, None, ['x'], {'k': 3},)")!;
        Assert.That(value[0], Is.EqualTo(1L));
        Assert.That(value[1], Is.EqualTo(-2.5));
        Assert.That(value[2], Is.EqualTo(true));
        Assert.That(value[3], Is.Null);
        Assert.That(value[4], Is.EqualTo(new List<object?> { "x" }));
        Assert.That(((Dictionary<string, object?>)value[5]!)["k"], Is.EqualTo(3L));
    }

    [Test]
    public void ReprRoundTrips()
    {
        var original = new List<object?> { "plain", "it's", "both ' and \"", "line\nbreak", 3L, 1.5, true, null };
        string repr = PythonLiteral.Repr(original);
        Assert.That(repr, Is.EqualTo("""['plain', "it's", 'both \' and "', 'line\nbreak', 3, 1.5, True, None]"""));
        Assert.That(PythonLiteral.Parse(repr), Is.EqualTo(original));
    }

    [TestCase("['a', 'b'")]
    [TestCase("['a' 'b]")]
    [TestCase("[a, b]")]
    [TestCase("['a'] extra")]
    public void MalformedListsAreRefused(string text) =>
        Assert.Throws<FormatException>(() => PythonLiteral.ParseStringList(text));
}
