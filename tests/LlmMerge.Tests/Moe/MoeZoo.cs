using LlmMerge.Core.SafeTensors;
using LlmMerge.Tests.Eval;
using LlmMerge.Tests.Support;
using LlmMerge.Tokenizers;

namespace LlmMerge.Tests.Moe;

/// <summary>
/// A tiny family for mixtures: a base decoder and dense experts of its shape (each a folder with config, weights
/// and the same small byte-level tokenizer), and a recipe file written beside them.
/// </summary>
public sealed class MoeZoo : IDisposable
{
    private MoeZoo(TempDir dir, TinyDecoder baseModel, IReadOnlyList<TinyDecoder> experts, HfTokenizer tokenizer)
    {
        Dir = dir;
        Base = baseModel;
        Experts = experts;
        Tokenizer = tokenizer;
    }

    public TempDir Dir { get; }

    public TinyDecoder Base { get; }

    public IReadOnlyList<TinyDecoder> Experts { get; }

    public HfTokenizer Tokenizer { get; }

    public string BaseDir => Dir["base"];

    public string ExpertDir(int i) => Dir[$"expert-{i}"];

    public string OutDir => Dir["out"];

    /// <summary>Base and <paramref name="experts"/> experts of <paramref name="shape"/> (its vocabulary set to the tokenizer's).</summary>
    public static MoeZoo Create(TinyDecoderShape shape, int experts, SafetensorsDType dtype = SafetensorsDType.F32)
    {
        var dir = new TempDir();
        var tokenizer = EvalTokenizer.Write(dir["base"]);
        shape = shape with { Vocab = tokenizer.VocabSize };
        var baseModel = new TinyDecoder(shape, seed: 100);
        baseModel.Write(dir["base"], dtype);
        var list = new List<TinyDecoder>();
        for (int i = 0; i < experts; i++)
        {
            var e = new TinyDecoder(shape, seed: 200 + i);
            e.Write(dir[$"expert-{i}"], dtype);
            EvalTokenizer.Write(dir[$"expert-{i}"]);
            list.Add(e);
        }
        return new MoeZoo(dir, baseModel, list, tokenizer);
    }

    /// <summary>Writes <paramref name="yaml"/> as moe.yml beside the models and returns its path (models are named relative to it).</summary>
    public string Recipe(string yaml)
    {
        string path = Dir["moe.yml"];
        File.WriteAllText(path, yaml);
        return path;
    }

    /// <summary>An experts list for a recipe: "expert-i" with the given prompts.</summary>
    public static string ExpertEntry(int i, string[] positive, string[]? negative = null, string extra = "")
    {
        var lines = new List<string> { $"  - source_model: expert-{i}", "    positive_prompts:" };
        lines.AddRange(positive.Select(p => "      - " + System.Text.Json.JsonSerializer.Serialize(p)));
        if (negative is not null)
        {
            lines.Add("    negative_prompts:");
            lines.AddRange(negative.Select(p => "      - " + System.Text.Json.JsonSerializer.Serialize(p)));
        }
        if (extra.Length > 0)
            lines.Add("    " + extra);
        return string.Join("\n", lines) + "\n";
    }

    public void Dispose() => Dir.Dispose();
}
