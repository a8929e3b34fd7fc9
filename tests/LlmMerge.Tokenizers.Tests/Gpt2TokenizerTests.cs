using Microsoft.ML.Tokenizers;
using NUnit.Framework;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>GPT-2's published vocabulary as a tokenizer.json, checked against OpenAI's encoding of it (tiktoken's algorithm, via Microsoft.ML.Tokenizers).</summary>
[TestFixture]
public sealed class Gpt2TokenizerTests
{
    private TempFolder _folder = null!;
    private HfTokenizer _tokenizer = null!;
    private TiktokenTokenizer _reference = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _folder = new TempFolder();
        PublishedTokenizers.WriteGpt2(_folder.Path);
        _tokenizer = HfTokenizer.FromFolder(_folder.Path);
        _reference = TiktokenTokenizer.CreateForModel("gpt2");
    }

    [OneTimeTearDown]
    public void TearDown() => _folder.Dispose();

    [Test]
    public void PublishedEncodings()
    {
        // GPT-2's ids as every GPT-2 tutorial prints them.
        Assert.That(_tokenizer.Encode("Hello world"), Is.EqualTo(new[] { 15496, 995 }));
        Assert.That(_tokenizer.Encode("Hello, world!"), Is.EqualTo(new[] { 15496, 11, 995, 0 }));
        Assert.That(_tokenizer.Encode("<|endoftext|>"), Is.EqualTo(new[] { 50256 }));
    }

    [TestCaseSource(typeof(SampleTexts), nameof(SampleTexts.All))]
    public void MatchesTiktoken(string text)
    {
        Assert.That(_tokenizer.Encode(text), Is.EqualTo(_reference.EncodeToIds(text)));
    }

    [TestCaseSource(typeof(SampleTexts), nameof(SampleTexts.All))]
    public void DecodeRoundTrips(string text)
    {
        Assert.That(_tokenizer.Decode(_tokenizer.Encode(text)), Is.EqualTo(text));
    }

    [Test]
    public void LongTextMatchesTiktoken()
    {
        // Long words (past the merge cache's length limit) and many repeats of the cached ones.
        string text = string.Join("\n", Enumerable.Repeat(string.Join(" ", SampleTexts.All), 200))
            + " supercalifragilisticexpialidocious antidisestablishmentarianism " + new string('a', 300);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<int> ids = _tokenizer.Encode(text);
        watch.Stop();
        Assert.That(ids, Is.EqualTo(_reference.EncodeToIds(text)));
        TestContext.Out.WriteLine($"{text.Length} chars, {ids.Count} tokens in {watch.ElapsedMilliseconds} ms");
    }

    [Test]
    public void SpecialTokenInTextIsNotSplit()
    {
        IReadOnlyList<int> ids = _tokenizer.Encode("Hello<|endoftext|> world");
        Assert.That(ids, Is.EqualTo(new[] { 15496, 50256, 995 }));
        Assert.That(ids, Is.EqualTo(_reference.EncodeToIds("Hello<|endoftext|> world")));
        Assert.That(_tokenizer.Decode(ids), Is.EqualTo("Hello<|endoftext|> world"));
        Assert.That(_tokenizer.Decode(ids, skipSpecialTokens: true), Is.EqualTo("Hello world"));
    }

    [Test]
    public void ConfigAndSpecialTokens()
    {
        Assert.Multiple(() =>
        {
            // GPT-2's ByteLevel post-processor adds nothing: tokenizer("...") has no BOS.
            Assert.That(_tokenizer.AddsBos, Is.False);
            Assert.That(_tokenizer.BosTokenId, Is.EqualTo(50256));
            Assert.That(_tokenizer.EosTokenId, Is.EqualTo(50256));
            Assert.That(_tokenizer.PadTokenId, Is.Null);
            Assert.That(_tokenizer.VocabSize, Is.EqualTo(50257));
            Assert.That(_tokenizer.ModelMaxLength, Is.EqualTo(1024));
            Assert.That(_tokenizer.ChatTemplate, Is.Null);
            Assert.That(_tokenizer.Encode("Hello world", addSpecialTokens: false), Is.EqualTo(new[] { 15496, 995 }));
        });
    }
}
