using LlmMerge.Tests.Support;
using LlmMerge.Tokenizers;

namespace LlmMerge.Tests.Eval;

/// <summary>A small byte-level BPE written as a Hugging Face tokenizer folder, as a model folder carries it.</summary>
public static class EvalTokenizer
{
    public const string Special = "<|endoftext|>";

    private static readonly string[] Corpus =
    [
        "Question: Is the sky blue?\nAnswer: yes",
        "Question: Is grass red?\nAnswer: no",
        "According to the above context, choose the best option to answer the following question.",
        "The cat sat on the mat. The dog sat on the log. A summary is",
        "None of the above choices . He wants to get married to a different person .",
    ];

    /// <summary>Writes the tokenizer into <paramref name="dir"/>: one special token that is BOS (prepended when <paramref name="addBos"/>) and EOS.</summary>
    public static HfTokenizer Write(string dir, bool addBos = true, int? modelMaxLength = null)
    {
        var model = ByteLevelBpeTrainer.Train(Corpus, 400, [Special]);
        HfTokenizerWriter.Write(dir, model, new HfTokenizerWriterOptions
        {
            BosToken = Special,
            EosToken = Special,
            AddBosToken = addBos,
            ModelMaxLength = modelMaxLength,
        });
        return HfTokenizer.FromFolder(dir);
    }

    /// <summary>A fresh folder with the tokenizer; dispose it to remove.</summary>
    public static (TempDir Dir, HfTokenizer Tokenizer) InTemp(bool addBos = true, int? modelMaxLength = null)
    {
        var dir = new TempDir();
        return (dir, Write(dir.Path, addBos, modelMaxLength));
    }
}
