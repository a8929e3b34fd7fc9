using LlmMerge.Core;
using NUnit.Framework;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>Unusable tokenizer folders fail with an <see cref="LlmMergeException"/> that names the file and the problem.</summary>
[TestFixture]
public sealed class BadInputTests
{
    [Test]
    public void MissingTokenizerFilesNameTheFolder()
    {
        using var folder = new TempFolder();
        folder.Write("config.json", "{}");
        var ex = Assert.Throws<LlmMergeException>(() => HfTokenizer.FromFolder(folder.Path))!;
        Assert.That(ex.Message, Does.Contain(folder.Path).And.Contain("tokenizer.json").And.Contain("tokenizer.model"));
    }

    [Test]
    public void MissingFolderIsNamed()
    {
        string path = Path.Combine(Path.GetTempPath(), "llmmerge-no-such-model-" + Guid.NewGuid().ToString("N"));
        var ex = Assert.Throws<LlmMergeException>(() => HfTokenizer.FromFolder(path))!;
        Assert.That(ex.Message, Does.Contain(path));
    }

    [TestCase("WordPiece", """{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0}}""")]
    [TestCase("Unigram", """{"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]]}""")]
    public void UnsupportedModelTypeNamesFileAndType(string type, string model)
    {
        using var folder = new TempFolder();
        string path = folder.Write("tokenizer.json", $$"""{"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null, "model": {{model}}}""");
        var ex = Assert.Throws<LlmMergeException>(() => HfTokenizer.FromFolder(folder.Path))!;
        Assert.That(ex.Message, Does.Contain(path).And.Contain($"'{type}'").And.Contain("BPE"));
    }

    [Test]
    public void MalformedJsonNamesTheFile()
    {
        using var folder = new TempFolder();
        string path = folder.Write("tokenizer.json", """{"model": {"type": "BPE", "vocab": {"a": 0""");
        var ex = Assert.Throws<LlmMergeException>(() => HfTokenizer.FromFolder(folder.Path))!;
        Assert.That(ex.Message, Does.Contain(path).And.Contain("not valid JSON"));
    }

    [Test]
    public void MalformedConfigNamesTheFile()
    {
        using var folder = new TempFolder();
        SentencePieceStyleFixture.Write(folder.Path);
        string path = folder.Write("tokenizer_config.json", "{\"bos_token\": ");
        var ex = Assert.Throws<LlmMergeException>(() => HfTokenizer.FromFolder(folder.Path))!;
        Assert.That(ex.Message, Does.Contain(path));
    }

    [Test]
    public void UnsupportedPreTokenizerIsNamed()
    {
        using var folder = new TempFolder();
        string path = folder.Write("tokenizer.json", """
            {"pre_tokenizer": {"type": "BertPreTokenizer"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}
            """);
        var ex = Assert.Throws<LlmMergeException>(() => HfTokenizer.FromFolder(folder.Path))!;
        Assert.That(ex.Message, Does.Contain(path).And.Contain("pre_tokenizer").And.Contain("'BertPreTokenizer'"));
    }

    [Test]
    public void MergeOfUnknownTokensIsReported()
    {
        using var folder = new TempFolder();
        string path = folder.Write("tokenizer.json", """
            {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}
            """);
        var ex = Assert.Throws<LlmMergeException>(() => HfTokenizer.FromFolder(folder.Path))!;
        Assert.That(ex.Message, Does.Contain(path).And.Contain("ab"));
    }

    [Test]
    public void UnreadableSentencePieceModelNamesTheFile()
    {
        using var folder = new TempFolder();
        string path = folder.Write("tokenizer.model", "this is not a protobuf");
        var ex = Assert.Throws<LlmMergeException>(() => HfTokenizer.FromFolder(folder.Path))!;
        Assert.That(ex.Message, Does.Contain(path));
    }
}
