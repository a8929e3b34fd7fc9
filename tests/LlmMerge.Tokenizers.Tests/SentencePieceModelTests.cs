using NUnit.Framework;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>A folder with tokenizer.model and no tokenizer.json (Llama 2 as first published), read through Microsoft.ML.Tokenizers.</summary>
[TestFixture]
public sealed class SentencePieceModelTests
{
    private const int Bos = 1, Eos = 2, Space = 259, Hello = 274, World = 279;

    private static HfTokenizer Load(TempFolder folder, string config)
    {
        SentencePieceModelFile.Write(Path.Combine(folder.Path, "tokenizer.model"));
        folder.Write("tokenizer_config.json", config);
        return HfTokenizer.FromFolder(folder.Path);
    }

    [Test]
    public void EncodesAsTheTokenizerJsonFormDoes()
    {
        using var folder = new TempFolder();
        HfTokenizer tok = Load(folder, """{"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>", "eos_token": "</s>", "tokenizer_class": "LlamaTokenizer"}""");

        // Same derivation as the tokenizer.json form: "▁hello▁world" → [▁hello, ▁world], BOS first.
        Assert.That(tok.Encode("hello world"), Is.EqualTo(new[] { Bos, Hello, World }));
        Assert.That(tok.Encode("hello world", addSpecialTokens: false), Is.EqualTo(new[] { Hello, World }));

        // Byte fallback: ü → <0xC3> <0xBC>.
        IReadOnlyList<int> ids = tok.Encode("hello ü", addSpecialTokens: false);
        Assert.That(ids, Is.EqualTo(new[] { Hello, Space, 3 + 0xC3, 3 + 0xBC }));
        Assert.That(tok.Decode(ids), Is.EqualTo("hello ü"));
        Assert.Multiple(() =>
        {
            Assert.That(tok.AddsBos, Is.True);
            Assert.That(tok.BosTokenId, Is.EqualTo(Bos));
            Assert.That(tok.EosTokenId, Is.EqualTo(Eos));
        });
    }

    [Test]
    public void ConfigFlagsDecideBosAndEos()
    {
        using var folder = new TempFolder();
        HfTokenizer tok = Load(folder, """{"add_bos_token": false, "add_eos_token": true, "bos_token": "<s>", "eos_token": "</s>"}""");
        Assert.That(tok.Encode("hello"), Is.EqualTo(new[] { Hello, Eos }));
        Assert.That(tok.AddsBos, Is.False);
    }
}
