using NUnit.Framework;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>
/// cl100k_base written as Llama 3 writes its tokenizer.json (Split regex with \p{L} classes, then ByteLevel without
/// regex; ignore_merges; a BOS template), checked against OpenAI's encoding via Microsoft.ML.Tokenizers' Tiktoken.
/// </summary>
[TestFixture]
public sealed class Cl100kTokenizerTests() : PublishedTokenizerFixture(PublishedTokenizers.WriteCl100kLlama3Style, "gpt-4")
{
    [Test]
    public void PublishedEncodings()
    {
        // cl100k_base's ids as OpenAI's tiktoken documentation and cookbook print them.
        Assert.That(Tokenizer.Encode("hello world", addSpecialTokens: false), Is.EqualTo(new[] { 15339, 1917 }));
        Assert.That(Tokenizer.Encode("Hello world", addSpecialTokens: false), Is.EqualTo(new[] { 9906, 1917 }));
    }

    [TestCaseSource(typeof(SampleTexts), nameof(SampleTexts.All))]
    public void MatchesTiktoken(string text)
    {
        Assert.That(Tokenizer.Encode(text, addSpecialTokens: false), Is.EqualTo(Reference.EncodeToIds(text)));
    }

    [TestCaseSource(typeof(SampleTexts), nameof(SampleTexts.All))]
    public void TemplateAddsBos(string text)
    {
        Assert.That(Tokenizer.Encode(text), Is.EqualTo(new[] { 100257 }.Concat(Reference.EncodeToIds(text))));
    }

    [TestCaseSource(typeof(SampleTexts), nameof(SampleTexts.All))]
    public void DecodeRoundTrips(string text)
    {
        Assert.That(Tokenizer.Decode(Tokenizer.Encode(text, addSpecialTokens: false)), Is.EqualTo(text));
        Assert.That(Tokenizer.Decode(Tokenizer.Encode(text), skipSpecialTokens: true), Is.EqualTo(text));
    }

    [Test]
    public void SpecialTokensInTextAreNotSplit()
    {
        const string text = "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>return 1<|endofprompt|>";
        IReadOnlyList<int> ids = Tokenizer.Encode(text, addSpecialTokens: false);
        Assert.That(ids, Is.EqualTo(Reference.EncodeToIds(text)));
        Assert.That(ids.Count(id => id is 100258 or 100259 or 100260 or 100276), Is.EqualTo(4));
        Assert.That(Tokenizer.Decode(ids), Is.EqualTo(text));
        Assert.That(Tokenizer.Decode(ids, skipSpecialTokens: true), Is.EqualTo("def f():\nreturn 1"));
    }

    [Test]
    public void ConfigAndSpecialTokens()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Tokenizer.AddsBos, Is.True);
            Assert.That(Tokenizer.BosTokenId, Is.EqualTo(100257));
            Assert.That(Tokenizer.EosTokenId, Is.EqualTo(100276));
            Assert.That(Tokenizer.VocabSize, Is.EqualTo(100256 + 5));
            Assert.That(Tokenizer.ModelMaxLength, Is.EqualTo(8192));
            Assert.That(Tokenizer.ChatTemplate, Does.StartWith("{{ bos_token }}"));
        });
    }
}
