using System.Text.Json.Nodes;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>
/// tokenizer_source base / union / a model over three tiny models whose vocabularies overlap in part and give the
/// same token different ids. Row r of model M's embedding is [10M + r, -(10M + r)] (head: 100 more), so every
/// expected value below is worked out by hand from the token tables.
/// </summary>
public class TokenizerSourceTests : MergeTestBase
{
    // id order; "<s>" and "<|im|>" are added (special) tokens.
    private static readonly string[] BaseTokens = ["<s>", "a", "b", "c", "d", "e"];
    private static readonly string[] XTokens = ["<s>", "c", "a", "f", "g", "b", "h", "<|im|>"];
    private static readonly string[] YTokens = ["<s>", "f", "e", "a", "i", "b"];

    [SetUp]
    public void MakeVocabModels()
    {
        WriteModel("vb", 1, BaseTokens);
        WriteModel("vx", 2, XTokens);
        WriteModel("vy", 3, YTokens);
    }

    private void WriteModel(string name, int m, string[] tokens, bool tokenizer = true)
    {
        int n = tokens.Length;
        var model = new TinyModel();
        model.Config["vocab_size"] = n;
        model.Add("model.embed_tokens.weight", [n, 2], Enumerable.Range(0, n).SelectMany(r => new float[] { 10 * m + r, -(10 * m + r) }).ToArray());
        model.Add("model.norm.weight", [2], [1, 1]);
        model.Add("lm_head.weight", [n, 2], Enumerable.Range(0, n).SelectMany(r => new float[] { 100 + 10 * m + r, -(100 + 10 * m + r) }).ToArray());
        model.Write(Dir[name]);
        if (tokenizer)
            WriteTokenizer(Dir[name], tokens);
    }

    /// <summary>A BPE tokenizer.json (every token in model.vocab, the bracketed ones also added tokens) and a tokenizer_config.json.</summary>
    private static void WriteTokenizer(string dir, string[] tokens)
    {
        var vocab = new JsonObject();
        var added = new JsonArray();
        var decoder = new JsonObject();
        for (int i = 0; i < tokens.Length; i++)
        {
            vocab[tokens[i]] = i;
            if (tokens[i].StartsWith('<'))
            {
                added.Add(new JsonObject { ["id"] = i, ["content"] = tokens[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });
                decoder[i.ToString()] = new JsonObject { ["content"] = tokens[i], ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false, ["single_word"] = false, ["special"] = true };
            }
        }
        var json = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added, ["normalizer"] = null,
            ["pre_tokenizer"] = null, ["post_processor"] = null, ["decoder"] = null,
            ["model"] = new JsonObject { ["type"] = "BPE", ["unk_token"] = null, ["vocab"] = vocab, ["merges"] = new JsonArray() },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"),
            new JsonObject { ["tokenizer_class"] = "PreTrainedTokenizerFast", ["added_tokens_decoder"] = decoder }.ToJsonString());
    }

    private const string Models = "models:\n  - model: vb\n  - model: vx\n  - model: vy\n";

    private static string Recipe(string tokenizer) => $"merge_method: linear\nbase_model: vb\nparameters: {{weight: 1}}\n{tokenizer}\n{Models}";

    private static JsonObject Json(string path) => (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;

    /// <summary>Rows [v, -v] for each expected first entry v (plus <paramref name="offset"/>).</summary>
    private static float[] Rows(double offset, params double[] firsts) =>
        firsts.SelectMany(v => new[] { (float)(v + offset), (float)-(v + offset) }).ToArray();

    private static Dictionary<string, int> Vocab(string dir)
    {
        var json = Json(Path.Combine(dir, "tokenizer.json"));
        var res = ((JsonObject)json["model"]!["vocab"]!).ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<int>());
        foreach (var a in (JsonArray)json["added_tokens"]!)
            res[a!["content"]!.GetValue<string>()] = a["id"]!.GetValue<int>();
        return res;
    }

    [Test]
    public void BaseKeepsTheBaseVocabularyAndFillsMissingRowsFromTheBase()
    {
        string output = Merge(Recipe("tokenizer_source: base"));
        // Rows (base, x, y) per base token; a missing row is the one holder's (d), else the base's (c for y, e for x).
        //   <s>: 10 20 30 | a: 11 22 33 | b: 12 25 35 | c: 13 21 [13] | d: 14 [14] [14] | e: 15 [15] 32
        AssertClose(ModelReader.Read(output, "model.embed_tokens.weight"), Rows(0, 20, 22, 24, 47.0 / 3, 14, 62.0 / 3));
        AssertClose(ModelReader.Read(output, "lm_head.weight"), Rows(100, 20, 22, 24, 47.0 / 3, 14, 62.0 / 3));
        Assert.That(Json(Path.Combine(output, "config.json"))["vocab_size"]!.GetValue<int>(), Is.EqualTo(6));
        Assert.That(File.ReadAllText(Path.Combine(output, "tokenizer.json")), Is.EqualTo(File.ReadAllText(Dir["vb/tokenizer.json"])), "the base's file, unchanged");
    }

    [Test]
    public void UnionAppendsTheOtherModelsTokensAsAddedTokens()
    {
        string output = Merge(Recipe("tokenizer_source: union"));
        // Base ids 0-5; then x's ordinary tokens by id (f g h), y's (i); then the added token x brings (<|im|>).
        var vocab = Vocab(output);
        string[] expected = ["<s>", "a", "b", "c", "d", "e", "f", "g", "h", "i", "<|im|>"];
        Assert.That(expected.Select(t => vocab[t]), Is.EqualTo(Enumerable.Range(0, 11)));
        Assert.That(vocab, Has.Count.EqualTo(11));
        Assert.That(Json(Path.Combine(output, "config.json"))["vocab_size"]!.GetValue<int>(), Is.EqualTo(11));

        // As transformers' add_tokens writes them: plain tokens normalized and not special; <|im|> keeps x's settings.
        var added = ((JsonArray)Json(Path.Combine(output, "tokenizer.json"))["added_tokens"]!).Select(a => a!.AsObject()).ToList();
        var f = added.Single(a => a["content"]!.GetValue<string>() == "f");
        Assert.That((f["id"]!.GetValue<int>(), f["special"]!.GetValue<bool>(), f["normalized"]!.GetValue<bool>()), Is.EqualTo((6, false, true)));
        var im = added.Single(a => a["content"]!.GetValue<string>() == "<|im|>");
        Assert.That((im["id"]!.GetValue<int>(), im["special"]!.GetValue<bool>(), im["normalized"]!.GetValue<bool>()), Is.EqualTo((10, true, false)));
        var decoder = (JsonObject)Json(Path.Combine(output, "tokenizer_config.json"))["added_tokens_decoder"]!;
        Assert.That(decoder.Select(kv => kv.Key), Is.EquivalentTo(new[] { "0", "6", "7", "8", "9", "10" }), "tokenizer_config.json lists the same added tokens");
        var loaded = LlmMerge.Tokenizers.HfTokenizer.FromFolder(output);
        Assert.That((loaded.TokenToId("i"), loaded.TokenToId("<|im|>"), loaded.VocabSize), Is.EqualTo(((int?)9, (int?)10, 11)), "our own tokenizer reader loads the written files");

        // Base tokens as in the base case; then
        //   f: [27] 23 31 (two holders, not the base: their mean) | g: 24 only in x | h: 26 | i: 34 only in y | <|im|>: 27 only in x
        AssertClose(ModelReader.Read(output, "model.embed_tokens.weight"), Rows(0, 20, 22, 24, 47.0 / 3, 14, 62.0 / 3, 27, 24, 26, 34, 27));
        AssertClose(ModelReader.Read(output, "lm_head.weight"), Rows(100, 20, 22, 24, 47.0 / 3, 14, 62.0 / 3, 27, 24, 26, 34, 27));
    }

    [Test]
    public void AModelsTokenizerGivesItsOwnIds()
    {
        foreach (var spec in new[] { "vx", "model:vx" })
        {
            string output = Merge(Recipe($"tokenizer_source: {spec}"));
            // x's order: <s> c a f g b h <|im|>; c: 13 21 [13 base's] | f: [27 mean of x, y] 23 31 | g, h, <|im|>: x alone.
            AssertClose(ModelReader.Read(output, "model.embed_tokens.weight"), Rows(0, 20, 47.0 / 3, 22, 27, 24, 24, 26, 27), what: spec);
            Assert.That(Json(Path.Combine(output, "config.json"))["vocab_size"]!.GetValue<int>(), Is.EqualTo(8), spec);
            Assert.That(File.ReadAllText(Path.Combine(output, "tokenizer.json")), Is.EqualTo(File.ReadAllText(Dir["vx/tokenizer.json"])), spec);
            Directory.Delete(output, true);
        }
    }

    [Test]
    public void WeightsApplyToTheStandInRows()
    {
        string output = Merge("merge_method: linear\nbase_model: vb\ntokenizer_source: base\nmodels:\n  - model: vb\n    parameters: {weight: 1}\n"
            + "  - model: vx\n    parameters: {weight: 3}\n");
        // Two inputs: d and e are only in the base (x takes the base's row); c: (1*13 + 3*21) / 4.
        AssertClose(ModelReader.Read(output, "model.embed_tokens.weight"), Rows(0, (10 + 60) / 4.0, (11 + 66) / 4.0, (12 + 75) / 4.0, (13 + 63) / 4.0, 14, 15));
    }

    [Test]
    public void TheTokenizerBlockConfiguresTokensAndPadding()
    {
        string output = Merge(Recipe("tokenizer:\n  source: base\n  pad_to_multiple_of: 4\n  tokens:\n"
            + "    a: {source: vy, force: true}\n    <new>: {source: {kind: model_token, model: vx, token: g}}\n    d: {source: {kind: zero}}\n"));
        // a forced to y's row 33 in every model; <new> (added, id 6) from x's g (24); d, which only the base has,
        // keeps the base's row but x and y get zero: (14 + 0 + 0) / 3. Rows 7 (padding to 8) are each model's mean
        // row, so the merged one is the mean of the merged rows 0-6.
        double[] rows = [20, 33, 24, 47.0 / 3, 14.0 / 3, 62.0 / 3, 24];
        AssertClose(ModelReader.Read(output, "model.embed_tokens.weight"), Rows(0, [.. rows, rows.Average()]));
        Assert.That(Json(Path.Combine(output, "config.json"))["vocab_size"]!.GetValue<int>(), Is.EqualTo(8));
        Assert.That(Vocab(output)["<new>"], Is.EqualTo(6));
    }

    [Test]
    public void ABaseWhoseConfigCutsItsTokenizerIsCut()
    {
        // The base's config says 5 rows: "e" (id 5) is dropped from its tokenizer, as mergekit's get_stripped_tokenizer does.
        var cfg = Json(Dir["vb/config.json"]);
        cfg["vocab_size"] = 5;
        File.WriteAllText(Dir["vb/config.json"], cfg.ToJsonString());
        string output = Merge(Recipe("tokenizer_source: base"));
        Assert.That(Vocab(output).Keys, Is.EquivalentTo(new[] { "<s>", "a", "b", "c", "d" }));
        Assert.That(Json(Path.Combine(output, "config.json"))["vocab_size"]!.GetValue<int>(), Is.EqualTo(5));
        AssertClose(ModelReader.Read(output, "model.embed_tokens.weight"), Rows(0, 20, 22, 24, 47.0 / 3, 14));
    }

    [Test]
    public void AnUnknownTokenizerSourceModelIsOneLine()
    {
        var (_, err) = MergeFails(Recipe("tokenizer_source: nothere"));
        Assert.That(err, Does.Contain("tokenizer_source").And.Contain("'nothere'"));
    }

    [Test]
    public void ABaseWithoutATokenizerIsOneLine()
    {
        WriteModel("bare", 4, BaseTokens, tokenizer: false);
        var (_, err) = MergeFails("merge_method: linear\nbase_model: bare\ntokenizer_source: union\nparameters: {weight: 1}\nmodels:\n  - model: bare\n  - model: vx\n");
        Assert.That(err, Does.Contain("'bare'").And.Contain("no tokenizer.json"));
    }

    [Test]
    public void ASourceModelWithoutATokenizerIsOneLine()
    {
        WriteModel("bare", 4, BaseTokens, tokenizer: false);
        var (_, err) = MergeFails(Recipe("tokenizer_source: bare"));
        Assert.That(err, Does.Contain("tokenizer_source").And.Contain("'bare'").And.Contain("no tokenizer.json"));
    }

    [Test]
    public void BothTokenizerKeysAreOneLine()
    {
        var (_, err) = MergeFails(Recipe("tokenizer_source: base\ntokenizer:\n  source: union"));
        Assert.That(err, Does.Contain("tokenizer_source").And.Contain("not both"));
    }
}
