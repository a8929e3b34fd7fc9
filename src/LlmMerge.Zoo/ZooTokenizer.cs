using LlmMerge.Core;
using LlmMerge.Tokenizers;

namespace LlmMerge.Zoo;

/// <summary>The zoo's byte-level BPE, trained on its own corpus and written as Hugging Face files.</summary>
public static class ZooTokenizer
{
    public const string EndOfText = "<|endoftext|>";
    public const string Pad = "<|pad|>";

    /// <summary>Trains the tokenizer from <paramref name="seed"/> and writes it into <paramref name="dir"/>; returns the loaded tokenizer.</summary>
    public static HfTokenizer Build(string dir, int seed, int vocabSize, int documents = 20000)
    {
        var model = ByteLevelBpeTrainer.Train(ZooCorpus.TokenizerCorpus(seed, documents), vocabSize, [EndOfText, Pad]);
        HfTokenizerWriter.Write(dir, model, new HfTokenizerWriterOptions
        {
            BosToken = EndOfText,
            EosToken = EndOfText,
            PadToken = Pad,
            // GPT-2 style: the same token opens and closes a document; prompts get it too, as the scorer encodes them.
            AddBosToken = true,
            ModelMaxLength = ZooModelShape.MaxPositions,
        });
        return HfTokenizer.FromFolder(dir);
    }

    /// <summary>Token ids of a document (BOS, text, EOS) and the first position whose token is a training target.</summary>
    public static (int[] Ids, int LossFrom) Encode(HfTokenizer tokenizer, ZooDocument doc)
    {
        int eos = tokenizer.EosTokenId ?? throw new LlmMergeException("the zoo tokenizer has no EOS token");
        var ids = tokenizer.Encode(doc.Text).Append(eos).ToArray();
        // Targets start after the prompt: position p predicts token p + 1, so the first answer token is predicted at prompt length - 1.
        int from = doc.Prompt is null ? 1 : tokenizer.Encode(doc.Prompt).Count;
        return (ids, from);
    }
}
