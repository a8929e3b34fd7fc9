using LlmMerge.Eval.Scoring;
using LlmMerge.Eval.Scoring.Metrics;
using LlmMerge.Eval.Tasks;

namespace LlmMerge.Tests.Eval;

/// <summary>ROUGE, the Porter stemmer, exact_match, lm-eval's filters and the choice reading of answers, against values worked out by hand.</summary>
public class GenerationMetricsTests
{
    private const string Target = "The quick brown fox jumps over the lazy dog";
    private const string Prediction = "The quick brown dog jumps on the log.";

    [Test]
    public void RougeOfRougeScoresReadmeExample()
    {
        // Tokens: the quick brown fox jumps over the lazy dog (9) / the quick brown dog jumps on the log (8).
        // Unigrams shared (clipped): the x2, quick, brown, jumps, dog = 6: P 6/8, R 6/9.
        var r1 = RougeScore.Compute("rouge1", Target, Prediction, useStemmer: false);
        Assert.That(r1.Precision, Is.EqualTo(6.0 / 8).Within(1e-12));
        Assert.That(r1.Recall, Is.EqualTo(6.0 / 9).Within(1e-12));
        Assert.That(r1.FMeasure, Is.EqualTo(2 * (6.0 / 8) * (6.0 / 9) / ((6.0 / 8) + (6.0 / 9))).Within(1e-12));
        // Bigrams shared: "the quick", "quick brown" = 2 of 7 predicted, 8 in the target: F = 4/15.
        Assert.That(RougeScore.Compute("rouge2", Target, Prediction, false).FMeasure, Is.EqualTo(4.0 / 15).Within(1e-12));
        // Longest common subsequence "the quick brown jumps the" = 5: F = 2(5/8)(5/9)/(5/8+5/9) = 50/85.
        Assert.That(RougeScore.Compute("rougeL", Target, Prediction, false).FMeasure, Is.EqualTo(50.0 / 85).Within(1e-12));
        // With the stemmer jumps -> jump on both sides, lazy -> lazi on one: the same overlaps.
        Assert.That(RougeScore.Compute("rougeL", Target, Prediction, true).FMeasure, Is.EqualTo(50.0 / 85).Within(1e-12));
    }

    [Test]
    public void RougeTokenizesAsRougeScoreDoesAndStemsOnlyWhenAsked()
    {
        Assert.That(RougeScore.Tokenize("Héllo, WORLD!! It's 2024; co-op", false), Is.EqualTo(new[] { "h", "llo", "world", "it", "s", "2024", "co", "op" }));
        Assert.That(RougeScore.Tokenize("The cats were running happily", true), Is.EqualTo(new[] { "the", "cat", "were", "run", "happili" }));
        // "cats" vs "cat": no overlap unstemmed, full overlap stemmed.
        Assert.That(RougeScore.Compute("rouge1", "cats", "cat", false).FMeasure, Is.Zero);
        Assert.That(RougeScore.Compute("rouge1", "cats", "cats", true).FMeasure, Is.EqualTo(1));
        // Stemmed: many -> mani on both sides, cats -> cat (while "cat", three letters, is left as it is).
        Assert.That(RougeScore.Compute("rouge1", "many cats", "many cat", false).FMeasure, Is.EqualTo(0.5));
        Assert.That(RougeScore.Compute("rouge1", "many cats", "many cat", true).FMeasure, Is.EqualTo(1));
        Assert.That(RougeScore.Compute("rouge1", "", "anything", false).FMeasure, Is.Zero);
    }

    [Test]
    public void RougeLsumTakesTheUnionLcsOfEachReferenceLine()
    {
        // Reference lines [a b c] [d e], prediction lines [d x e] [a c]: summary-level hits a, c (line 1) and d, e (line 2)
        // = 4 of 5 each way; the sentence-level LCS of the joined texts is only 2 ("a c" or "d e").
        Assert.That(RougeScore.Compute("rougeLsum", "a b c\nd e", "d x e\na c", false).FMeasure, Is.EqualTo(0.8).Within(1e-12));
        Assert.That(RougeScore.Compute("rougeL", "a b c\nd e", "d x e\na c", false).FMeasure, Is.EqualTo(0.4).Within(1e-12));
    }

    [TestCase("caresses", "caress")]
    [TestCase("ponies", "poni")]
    [TestCase("ties", "tie")]
    [TestCase("flies", "fli")]
    [TestCase("cats", "cat")]
    [TestCase("feed", "feed")]
    [TestCase("plastered", "plaster")]
    [TestCase("motoring", "motor")]
    [TestCase("sing", "sing")]
    [TestCase("conflated", "conflat")]
    [TestCase("hopping", "hop")]
    [TestCase("hoping", "hope")]
    [TestCase("falling", "fall")]
    [TestCase("hissing", "hiss")]
    [TestCase("filing", "file")]
    [TestCase("happiness", "happi")]
    [TestCase("relational", "relat")]
    [TestCase("conditional", "condit")]
    [TestCase("generalization", "gener")]
    [TestCase("running", "run")]
    [TestCase("dying", "die")]
    [TestCase("skies", "sky")]
    [TestCase("agreement", "agreement")]
    [TestCase("enjoy", "enjoy")]
    public void PorterStemmerInNltksDefaultMode(string word, string stem) =>
        Assert.That(PorterStemmer.Stem(word), Is.EqualTo(stem));

    [Test]
    public void ExactMatchOptionsApplyInLmEvalsOrder()
    {
        var plain = new MetricSpec(MetricNames.ExactMatch);
        Assert.That(ExactMatch.Score("Paris", ["Paris"], plain), Is.EqualTo(1));
        Assert.That(ExactMatch.Score("paris", ["Paris"], plain), Is.Zero);
        Assert.That(ExactMatch.Score("paris", ["Paris"], plain with { IgnoreCase = true }), Is.EqualTo(1));
        Assert.That(ExactMatch.Score("Hello, World!", ["hello world"], plain with { IgnoreCase = true, IgnorePunctuation = true }), Is.EqualTo(1));
        Assert.That(ExactMatch.Score("¡hola!", ["hola"], plain with { IgnorePunctuation = true }), Is.Zero, "only ASCII punctuation is string.punctuation");
        var money = plain with { RegexesToIgnore = [PythonRegex.Compile(@"\$", "t"), PythonRegex.Compile(",", "t")] };
        Assert.That(ExactMatch.Score("$1,000", ["1000"], money), Is.EqualTo(1));
        Assert.That(ExactMatch.Score("abc123", ["abc"], plain with { IgnoreNumbers = true }), Is.EqualTo(1));
        Assert.That(ExactMatch.Score("b", ["a", "b"], plain), Is.EqualTo(1), "any of several references");
    }

    private static FilterStep Regex(string pattern, int group = 0, string fallback = "[invalid]") =>
        new("regex", PythonRegex.Compile(pattern, "t"), group, fallback);

    [Test]
    public void RegexFilterFollowsFindall()
    {
        Assert.That(AnswerFilters.Regex(Regex(@"The answer is (\-?[0-9\.\,]+)"), "So... The answer is 42. Or The answer is 7"), Is.EqualTo("42."));
        Assert.That(AnswerFilters.Regex(Regex(@"(-?[$0-9.,]{2,})|(-?[0-9]+)", group: -1), "first 12 then 3 and 456"), Is.EqualTo("456"), "the last match; its first non-empty group");
        Assert.That(AnswerFilters.Regex(Regex(@"(-?[$0-9.,]{2,})|(-?[0-9]+)", group: -1), "only 7"), Is.EqualTo("7"), "the second group when the first did not take part");
        Assert.That(AnswerFilters.Regex(Regex(@"\d+"), "no digits"), Is.EqualTo("[invalid]"));
        Assert.That(AnswerFilters.Regex(Regex(@"\d+", fallback: "none"), "no digits"), Is.EqualTo("none"));
        Assert.That(AnswerFilters.Regex(Regex(@"(?P<n>\d+)"), " 5 "), Is.EqualTo("5"), "Python's named-group syntax");
        Assert.That(AnswerFilters.Regex(Regex(@"\d+", group: 3), "1 2"), Is.EqualTo("[invalid]"), "out of range: the fallback");
    }

    [Test]
    public void ChainsRunStepByStepDownToTakeFirst()
    {
        var vote = new FilterChain("vote", [Regex(@"(\d+)"), new FilterStep("majority_vote"), new FilterStep("take_first")]);
        Assert.That(AnswerFilters.Apply(vote, ["x 3", "y 4", "z 4", "w 3"]), Is.EqualTo("3"), "a tie goes to the first seen");
        Assert.That(AnswerFilters.Apply(vote, ["x 3", "y 4", "z 4"]), Is.EqualTo("4"));
        var clean = new FilterChain("clean", [new FilterStep("lowercase"), new FilterStep("remove_whitespace"), new FilterStep("take_first")]);
        Assert.That(AnswerFilters.Apply(clean, ["  The ANSWER \n", "other"]), Is.EqualTo("the answer"));
        Assert.That(AnswerFilters.Apply(FilterChain.None, ["first", "second"]), Is.EqualTo("first"));
    }

    [Test]
    public void AnswersAreReadAsChoicesByTextOrLetter()
    {
        string[] choices = ["Paris", "Rome", "Oslo"];
        Assert.That(ChoiceAnswer.Index(" Rome ", choices), Is.EqualTo(1));
        Assert.That(ChoiceAnswer.Index("C", choices), Is.EqualTo(2));
        Assert.That(ChoiceAnswer.Index("(A)", choices), Is.EqualTo(0));
        Assert.That(ChoiceAnswer.Index("D", choices), Is.Null, "no fourth choice");
        Assert.That(ChoiceAnswer.Index("rome", choices), Is.Null, "text must match exactly");
        Assert.That(ChoiceAnswer.Index("[invalid]", choices), Is.Null);
    }
}
