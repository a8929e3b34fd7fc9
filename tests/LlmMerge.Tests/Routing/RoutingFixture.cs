using LlmMerge.Tests.Eval;
using LlmMerge.Tests.Support;
using LlmMerge.Tokenizers;

namespace LlmMerge.Tests.Routing;

/// <summary>
/// A folder with a tiny base, experts of its shape and tokenizer (seeded decoders, not trained), and two small
/// multiple-choice tasks whose questions differ in wording, for routers to route.
/// </summary>
public sealed class RoutingFixture : IDisposable
{
    public TempDir Dir { get; } = new();

    public HfTokenizer Tokenizer { get; }

    public TinyDecoderShape Shape { get; }

    public Dictionary<string, TinyDecoder> Models { get; } = new(StringComparer.Ordinal);

    public static readonly string[] AlphaQuestions =
    [
        "Question: Is the sky blue?\nAnswer:", "Question: Is grass red?\nAnswer:", "Question: Is the cat on the mat?\nAnswer:",
        "Question: Is the dog on the log?\nAnswer:", "Question: Is the sky red?\nAnswer:", "Question: Is grass blue?\nAnswer:",
    ];

    public static readonly string[] BetaQuestions =
    [
        "According to the above context, choose the best option.", "The cat sat on the mat. A summary is", "He wants to get married.",
        "None of the above choices .", "The dog sat on the log. A summary is", "According to the above, he wants",
    ];

    public RoutingFixture(int layers = 3, params string[] experts)
    {
        // The tokenizer decides the vocabulary, so the models are sized to it.
        string probe = Dir["tokenizer"];
        Tokenizer = EvalTokenizer.Write(probe);
        Shape = new TinyDecoderShape { Layers = layers, Vocab = Tokenizer.VocabSize, MaxPositions = 64 };
        AddModel("base", 1);
        int seed = 2;
        foreach (string e in experts.Length > 0 ? experts : ["alpha", "beta"])
            AddModel(e, seed++);
        WriteTask("alpha", AlphaQuestions);
        WriteTask("beta", BetaQuestions);
    }

    public string this[string relative] => Dir[relative];

    public string ModelDir(string name) => Dir[Path.Combine("models", name)];

    public TinyDecoder AddModel(string name, int seed, TinyDecoderShape? shape = null)
    {
        var model = new TinyDecoder(shape ?? Shape, seed);
        if (Directory.Exists(ModelDir(name)))
            Directory.Delete(ModelDir(name), recursive: true);
        model.Write(ModelDir(name));
        EvalTokenizer.Write(ModelDir(name));
        Models[name] = model;
        return model;
    }

    /// <summary>tasks/NAME.csv: the questions as competition rows, choices " yes"/" no", targets alternating.</summary>
    public string WriteTask(string name, IReadOnlyList<string> questions)
    {
        var text = new System.Text.StringBuilder("id,input,target,answer_choices,eval_type\n");
        for (int i = 0; i < questions.Count; i++)
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i},\"{questions[i]}\",{i % 2},\"['yes', 'no']\",multiple_choice\n");
        string path = Dir[Path.Combine("tasks", name + ".csv")];
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.ToString());
        return path;
    }

    public string WriteConfig(string name, string yaml)
    {
        string path = Dir[name];
        File.WriteAllText(path, yaml);
        return path;
    }

    /// <summary>mergekit's prompt ids: BOS, then the prompt's own tokens.</summary>
    public int[] PromptIds(string text) => [Tokenizer.BosTokenId!.Value, .. Tokenizer.Encode(text, addSpecialTokens: false)];

    public void Dispose() => Dir.Dispose();
}
