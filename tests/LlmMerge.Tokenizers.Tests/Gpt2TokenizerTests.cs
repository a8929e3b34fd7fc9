using NUnit.Framework;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>GPT-2's published vocabulary as a tokenizer.json, checked against OpenAI's encoding of it (tiktoken's algorithm, via Microsoft.ML.Tokenizers).</summary>
[TestFixture]
public sealed class Gpt2TokenizerTests() : PublishedTokenizerFixture(PublishedTokenizers.WriteGpt2, "gpt2")
{
    [Test]
    public void PublishedEncodings()
    {
        // GPT-2's ids as every GPT-2 tutorial prints them.
        Assert.That(Tokenizer.Encode("Hello world"), Is.EqualTo(new[] { 15496, 995 }));
        Assert.That(Tokenizer.Encode("Hello, world!"), Is.EqualTo(new[] { 15496, 11, 995, 0 }));
        Assert.That(Tokenizer.Encode("<|endoftext|>"), Is.EqualTo(new[] { 50256 }));
    }

    [TestCaseSource(typeof(SampleTexts), nameof(SampleTexts.All))]
    public void MatchesTiktoken(string text)
    {
        Assert.That(Tokenizer.Encode(text), Is.EqualTo(Reference.EncodeToIds(text)));
    }

    [TestCaseSource(typeof(SampleTexts), nameof(SampleTexts.All))]
    public void DecodeRoundTrips(string text)
    {
        Assert.That(Tokenizer.Decode(Tokenizer.Encode(text)), Is.EqualTo(text));
    }

    [Test]
    public void LongTextMatchesTiktoken()
    {
        // Long words (past the merge cache's length limit) and many repeats of the cached ones.
        string text = string.Join("\n", Enumerable.Repeat(string.Join(" ", SampleTexts.All), 200))
            + " supercalifragilisticexpialidocious antidisestablishmentarianism " + new string('a', 300);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<int> ids = Tokenizer.Encode(text);
        watch.Stop();
        Assert.That(ids, Is.EqualTo(Reference.EncodeToIds(text)));
        TestContext.Out.WriteLine($"{text.Length} chars, {ids.Count} tokens in {watch.ElapsedMilliseconds} ms");
    }

    [Test]
    public void SpecialTokenInTextIsNotSplit()
    {
        IReadOnlyList<int> ids = Tokenizer.Encode("Hello<|endoftext|> world");
        Assert.That(ids, Is.EqualTo(new[] { 15496, 50256, 995 }));
        Assert.That(ids, Is.EqualTo(Reference.EncodeToIds("Hello<|endoftext|> world")));
        Assert.That(Tokenizer.Decode(ids), Is.EqualTo("Hello<|endoftext|> world"));
        Assert.That(Tokenizer.Decode(ids, skipSpecialTokens: true), Is.EqualTo("Hello world"));
    }

    [Test]
    public void ConfigAndSpecialTokens()
    {
        Assert.Multiple(() =>
        {
            // GPT-2's ByteLevel post-processor adds nothing: tokenizer("...") has no BOS.
            Assert.That(Tokenizer.AddsBos, Is.False);
            Assert.That(Tokenizer.BosTokenId, Is.EqualTo(50256));
            Assert.That(Tokenizer.EosTokenId, Is.EqualTo(50256));
            Assert.That(Tokenizer.PadTokenId, Is.Null);
            Assert.That(Tokenizer.VocabSize, Is.EqualTo(50257));
            Assert.That(Tokenizer.ModelMaxLength, Is.EqualTo(1024));
            Assert.That(Tokenizer.ChatTemplate, Is.Null);
            Assert.That(Tokenizer.Encode("Hello world", addSpecialTokens: false), Is.EqualTo(new[] { 15496, 995 }));
        });
    }
}
