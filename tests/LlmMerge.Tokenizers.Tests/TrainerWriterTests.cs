using NUnit.Framework;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>The project's own tokenizer: <see cref="ByteLevelBpeTrainer"/> learns merges, <see cref="HfTokenizerWriter"/> writes them, <see cref="HfTokenizer"/> reads them back.</summary>
[TestFixture]
public sealed class TrainerWriterTests
{
    private static readonly string[] Corpus =
    [
        "The cat sat on the mat. The dog sat on the log.",
        "A merge of two models is evaluated on held-out tasks.",
        "Question: Which animal sat on the mat?\nAnswer: the cat",
        "Numbers like 12, 345 and 6789 appear too; so do émigrés and naïve cafés.",
    ];

    [Test]
    public void MergesTheMostFrequentPairFirst()
    {
        // "ab ab ab" and "abc" split (GPT-2 regex) into ab, Ġab, Ġab, abc.
        // Pair counts: a+b 4, Ġ+a 2, b+c 1 → merge a b. Then Ġ+ab 2, ab+c 1 → merge Ġ ab. Then ab+c 1 → merge ab c.
        ByteLevelBpeModel model = ByteLevelBpeTrainer.Train(["ab ab ab", "abc"], 1 + 256 + 3, ["<|endoftext|>"]);
        Assert.That(model.Merges, Is.EqualTo(new[] { ("a", "b"), ("Ġ", "ab"), ("ab", "c") }));
        Assert.That(model.Vocab["<|endoftext|>"], Is.EqualTo(0));
        Assert.That(model.Vocab["a"], Is.EqualTo(1 + 'a'), "byte symbols follow the special tokens in byte order");
        Assert.That(model.Vocab["ab"], Is.EqualTo(257));
        Assert.That(model.Vocab["Ġab"], Is.EqualTo(258));
        Assert.That(model.Vocab["abc"], Is.EqualTo(259));
    }

    [Test]
    public void TiesAreBrokenByTheOrdinallySmallestPair()
    {
        // x+y and z+w are both seen once: (x, y) sorts first.
        ByteLevelBpeModel model = ByteLevelBpeTrainer.Train(["zw", "xy"], 256 + 1, []);
        Assert.That(model.Merges, Is.EqualTo(new[] { ("x", "y") }));
    }

    [Test]
    public void StopsWhenNoPairIsLeft()
    {
        ByteLevelBpeModel model = ByteLevelBpeTrainer.Train(["ab"], 1000, []);
        Assert.That(model.Merges, Has.Count.EqualTo(1));
        Assert.That(model.Vocab, Has.Count.EqualTo(257));
    }

    [Test]
    public void TrainingIsDeterministic()
    {
        ByteLevelBpeModel a = ByteLevelBpeTrainer.Train(Corpus, 400, ["<|endoftext|>"]);
        ByteLevelBpeModel b = ByteLevelBpeTrainer.Train(Corpus.Reverse(), 400, ["<|endoftext|>"]);
        Assert.That(a.Merges, Is.EqualTo(b.Merges));
        Assert.That(a.Vocab, Is.EquivalentTo(b.Vocab));
    }

    [Test]
    public void WrittenTokenizerLoadsAndRoundTrips()
    {
        ByteLevelBpeModel model = ByteLevelBpeTrainer.Train(Corpus, 330, ["<|endoftext|>", "<|pad|>"]);
        using var folder = new TempFolder();
        HfTokenizerWriter.Write(folder.Path, model, new HfTokenizerWriterOptions
        {
            BosToken = "<|endoftext|>",
            EosToken = "<|endoftext|>",
            PadToken = "<|pad|>",
            AddBosToken = true,
            ChatTemplate = "{% for m in messages %}{{ m.content }}{% endfor %}",
            ModelMaxLength = 512,
        });

        HfTokenizer tok = HfTokenizer.FromFolder(folder.Path);
        Assert.Multiple(() =>
        {
            Assert.That(tok.BosTokenId, Is.EqualTo(0));
            Assert.That(tok.EosTokenId, Is.EqualTo(0));
            Assert.That(tok.PadTokenId, Is.EqualTo(1));
            Assert.That(tok.AddsBos, Is.True);
            Assert.That(tok.VocabSize, Is.EqualTo(330));
            Assert.That(tok.ModelMaxLength, Is.EqualTo(512));
            Assert.That(tok.ChatTemplate, Does.Contain("messages"));
        });

        // Text seen in training, unseen text, and bytes never seen at all all come back unchanged.
        foreach (string text in Corpus.Concat(SampleTexts.All))
        {
            IReadOnlyList<int> ids = tok.Encode(text);
            Assert.That(ids[0], Is.EqualTo(0));
            Assert.That(tok.Decode(ids, skipSpecialTokens: true), Is.EqualTo(text));
        }

        // Learned merges are used: " the" is frequent enough in the corpus to be one token.
        Assert.That(tok.Encode(" the", addSpecialTokens: false), Is.EqualTo(new[] { model.Vocab["Ġthe"] }));

        // Special tokens in text are never split.
        Assert.That(tok.Encode("cat<|pad|>", addSpecialTokens: false)[^1], Is.EqualTo(1));
    }

    [Test]
    public void WrittenTokenizerMatchesTheTrainedMergesByHand()
    {
        ByteLevelBpeModel model = ByteLevelBpeTrainer.Train(["ab ab ab", "abc"], 1 + 256 + 3, ["<|endoftext|>"]);
        using var folder = new TempFolder();
        HfTokenizerWriter.Write(folder.Path, model, new HfTokenizerWriterOptions { EosToken = "<|endoftext|>" });
        HfTokenizer tok = HfTokenizer.FromFolder(folder.Path);

        // "abc ab" → words abc, Ġab → merges a+b, ab+c give abc (259); Ġ+ab gives Ġab (258). No BOS: none asked for.
        Assert.That(tok.Encode("abc ab"), Is.EqualTo(new[] { 259, 258 }));
        Assert.That(tok.AddsBos, Is.False);
        Assert.That(tok.EosTokenId, Is.EqualTo(0));
    }
}
