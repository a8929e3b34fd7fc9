using System.Text.Json.Nodes;
using NUnit.Framework;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>
/// The SentencePiece-style BPE of Llama 2 and Mistral on a hand-made vocabulary (see <see cref="SentencePieceStyleFixture"/>);
/// every expected encoding is worked out by hand in the comments. Merge ranks: 1 ▁+h, 2 l+l, 3 e+ll, 4 ▁h+ell,
/// 5 ▁hell+o, 6 ▁+w, 7 o+r, 8 ▁w+or, 9 l+d, 10 ▁wor+ld, 11 a+t. BPE merges the lowest-ranked adjacent pair first.
/// </summary>
[TestFixture]
public sealed class SentencePieceStyleBpeTests
{
    private const int Unk = 0, Bos = 1, Eos = 2, Space = 259, Hello = 274, World = 279, At = 280;

    private static HfTokenizer Load(TempFolder folder, bool legacy = true, bool byteFallback = true, bool addEosToken = false, JsonArray? added = null)
    {
        SentencePieceStyleFixture.Write(folder.Path, legacy, byteFallback, addEosToken, added);
        return HfTokenizer.FromFolder(folder.Path);
    }

    [Test]
    public void EncodesWithPrependReplaceNormalizerAndBos()
    {
        using var folder = new TempFolder();
        HfTokenizer tok = Load(folder);

        // "hello world" → Prepend → "▁hello world" → Replace → "▁hello▁world" (no pre-tokenizer: one word).
        // ▁ h e l l o ▁ w o r l d: rank 1 ▁h; 2 ll; 3 ell; 4 ▁hell; 5 ▁hello; 6 ▁w; 7 or; 8 ▁wor; 9 ld; 10 ▁world.
        // The TemplateProcessing post-processor puts <s> first.
        Assert.That(tok.Encode("hello world"), Is.EqualTo(new[] { Bos, Hello, World }));
        Assert.That(tok.Encode("hello world", addSpecialTokens: false), Is.EqualTo(new[] { Hello, World }));

        // "at" → "▁at": ▁ a t; no merge for ▁+a, rank 11 a+t → [▁, at].
        Assert.That(tok.Encode("at", addSpecialTokens: false), Is.EqualTo(new[] { Space, At }));

        // " hello" → "▁▁hello": ▁ ▁ h e l l o; the only ranked pair at first is ▁+h at position 1 → ... → [▁, ▁hello].
        Assert.That(tok.Encode(" hello", addSpecialTokens: false), Is.EqualTo(new[] { Space, Hello }));

        // Unmergeable letters stay single: "ow" → "▁ow": ▁ o w has no ranked pair → [▁ 259, o 263, w 264].
        Assert.That(tok.Encode("ow", addSpecialTokens: false), Is.EqualTo(new[] { Space, 263, 264 }));

        Assert.That(tok.Encode(""), Is.EqualTo(new[] { Bos }));
        Assert.Multiple(() =>
        {
            Assert.That(tok.AddsBos, Is.True);
            Assert.That(tok.BosTokenId, Is.EqualTo(Bos));
            Assert.That(tok.EosTokenId, Is.EqualTo(Eos));
            Assert.That(tok.PadTokenId, Is.Null);
            Assert.That(tok.ModelMaxLength, Is.Null, "transformers' 1e30 means no limit");
            Assert.That(tok.VocabSize, Is.EqualTo(259 + SentencePieceStyleFixture.Pieces.Length));
        });
    }

    [Test]
    public void ByteFallbackForCharactersOutsideTheVocabulary()
    {
        using var folder = new TempFolder();
        HfTokenizer tok = Load(folder);

        // "hello ü" → "▁hello▁ü"; ü is not a piece, so it becomes its UTF-8 bytes C3 BC → <0xC3> = 3+195, <0xBC> = 3+188.
        // The rest merges as before: [▁hello, ▁].
        IReadOnlyList<int> ids = tok.Encode("hello ü");
        Assert.That(ids, Is.EqualTo(new[] { Bos, Hello, Space, 3 + 0xC3, 3 + 0xBC }));

        // A four-byte character (U+1F600, F0 9F 98 80) between two known words.
        Assert.That(tok.Encode("hello😀world", addSpecialTokens: false),
            Is.EqualTo(new[] { Hello, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80, 264, 276, 278 }));

        // Decoder: Replace ▁→" ", ByteFallback joins <0xC3><0xBC> into "ü", Fuse, Strip one leading space.
        Assert.That(tok.Decode(ids), Is.EqualTo("<s> hello ü"));
        Assert.That(tok.Decode(ids, skipSpecialTokens: true), Is.EqualTo("hello ü"));
        // A lone continuation byte is not UTF-8: one U+FFFD per byte, as Hugging Face's ByteFallback decoder does.
        Assert.That(tok.Decode([Hello, 3 + 0xBC]), Is.EqualTo("hello\uFFFD"));
    }

    [Test]
    public void UnknownCharactersFuseIntoOneUnkWithoutByteFallback()
    {
        using var folder = new TempFolder();
        HfTokenizer tok = Load(folder, byteFallback: false);

        // "hello üü" → "▁hello▁üü": [▁hello, ▁, <unk>] — fuse_unk makes the two unknown characters one <unk>.
        Assert.That(tok.Encode("hello üü", addSpecialTokens: false), Is.EqualTo(new[] { Hello, Space, Unk }));
    }

    [Test]
    public void SpecialTokenInTextIsMatchedBeforeNormalizing()
    {
        using var folder = new TempFolder();
        HfTokenizer tok = Load(folder);

        // "</s>" is an added token (normalized: false): the text is cut around it first, then each piece is normalized
        // on its own, so Prepend gives "▁hello" and "▁world" (the "legacy" behaviour of Llama 2's tokenizer.json).
        IReadOnlyList<int> ids = tok.Encode("hello</s>world");
        Assert.That(ids, Is.EqualTo(new[] { Bos, Hello, Eos, World }));
        Assert.That(tok.Decode(ids), Is.EqualTo("<s> hello</s> world"));
        Assert.That(tok.Decode(ids, skipSpecialTokens: true), Is.EqualTo("hello world"));
    }

    [Test]
    public void MetaspacePreTokenizerPrependsOnlyAtTheStart()
    {
        using var folder = new TempFolder();
        HfTokenizer tok = Load(folder, legacy: false);

        // Metaspace: spaces → ▁, and prepend_scheme "first" adds ▁ only to the piece that starts the input.
        // "hello world" → "▁hello▁world" → [▁hello, ▁world].
        Assert.That(tok.Encode("hello world"), Is.EqualTo(new[] { Bos, Hello, World }));

        // After </s>, "world" is not at the start: w o r l d → rank 7 or, rank 9 ld → [w 264, or 276, ld 278].
        Assert.That(tok.Encode("hello</s>world", addSpecialTokens: false), Is.EqualTo(new[] { Hello, Eos, 264, 276, 278 }));

        // Metaspace decoder: ▁ → space, the first token's ▁ dropped.
        Assert.That(tok.Decode([Bos, Hello, World], skipSpecialTokens: true), Is.EqualTo("hello world"));
    }

    [Test]
    public void AddedTokenOptions()
    {
        using var folder = new TempFolder();
        HfTokenizer tok = Load(folder, added: new JsonArray(
            SentencePieceStyleFixture.Token(281, "<sep>", special: false, lstrip: true, rstrip: true),
            SentencePieceStyleFixture.Token(282, "hell", special: false, singleWord: true)));

        // lstrip/rstrip: "<sep>" takes the spaces on both sides with it, leaving "hello" and "world" → ▁hello, ▁world.
        Assert.That(tok.Encode("hello <sep> world", addSpecialTokens: false), Is.EqualTo(new[] { Hello, 281, World }));

        // single_word: "hell" matches as a word, not inside "hello". " hello" → "▁▁hello" → [▁, ▁hello].
        Assert.That(tok.Encode("hell hello", addSpecialTokens: false), Is.EqualTo(new[] { 282, Space, Hello }));

        // Non-special added tokens survive skipSpecialTokens.
        Assert.That(tok.Decode([Bos, 282], skipSpecialTokens: true), Is.EqualTo("hell"));
    }

    [Test]
    public void LlamaConfigFlagsOverrideThePostProcessor()
    {
        using var folder = new TempFolder();
        HfTokenizer tok = Load(folder, addEosToken: true);

        // transformers' LlamaTokenizerFast rebuilds its template from add_bos_token/add_eos_token.
        Assert.That(tok.Encode("hello"), Is.EqualTo(new[] { Bos, Hello, Eos }));
        Assert.That(tok.AddsBos, Is.True);
    }
}
