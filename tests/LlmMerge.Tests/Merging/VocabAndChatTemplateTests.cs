using System.Text.Json.Nodes;
using LlmMerge.Core.Models;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>Tied embeddings, vocabularies of different sizes, and the recipe's chat_template.</summary>
public class VocabAndChatTemplateTests : MergeTestBase
{
    private (string Output, string Err) Run(string yaml)
    {
        string recipe = Dir["recipe.yml"];
        File.WriteAllText(recipe, yaml);
        var (exit, _, err) = CliRunner.Run("merge", recipe, Dir["out"], "--quiet");
        Assert.That(exit, Is.EqualTo(0), err);
        return (Dir["out"], err);
    }

    private static JsonObject Json(string path) => (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;

    /// <summary>A model that stores no lm_head (its config says the head is embed_tokens).</summary>
    private void WriteTied(int seed, string name, bool? tieFlag = true)
    {
        var m = new TinyModel().Layers(2);
        if (tieFlag is { } tie)
            m.Config["tie_word_embeddings"] = tie;
        int i = 0;
        foreach (var t in Fixtures.Names(2).Where(n => n != "lm_head.weight"))
        {
            var shape = Fixtures.ShapeOf(t);
            m.Add(t, shape, Fixtures.Values(seed * 1000 + i++, shape.Aggregate(1L, (x, y) => x * y)));
        }
        m.Write(Dir[name]);
    }

    private static bool Has(string dir, string tensor)
    {
        using var m = ModelFolder.Open(dir);
        return m.Contains(tensor);
    }

    [Test]
    public void TiedInputsGiveATiedOutputWithoutAHead()
    {
        WriteTied(7, "t1");
        WriteTied(8, "t2");
        var (output, err) = Run("merge_method: linear\nparameters: {weight: 1}\nmodels:\n  - model: t1\n  - model: t2\n");
        Assert.That(Has(output, "lm_head.weight"), Is.False, err);
        Assert.That(Json(Path.Combine(output, "config.json"))["tie_word_embeddings"]!.GetValue<bool>(), Is.True);
        var e1 = In("t1", "model.embed_tokens.weight");
        var e2 = In("t2", "model.embed_tokens.weight");
        AssertClose(ModelReader.Read(output, "model.embed_tokens.weight"), e1.Select((x, i) => (x + e2[i]) / 2).ToArray());
    }

    [Test]
    public void ATiedModelLendsItsEmbeddingToAnUntiedHead()
    {
        WriteTied(7, "t1");
        var (output, _) = Run("merge_method: linear\nparameters: {weight: 1}\nmodels:\n  - model: a\n  - model: t1\n");
        var head = In("a", "lm_head.weight");
        var embed = In("t1", "model.embed_tokens.weight");
        // mergekit's tied_names: lm_head falls back to model.embed_tokens.weight in a model that lacks it.
        AssertClose(ModelReader.Read(output, "lm_head.weight"), head.Select((x, i) => (x + embed[i]) / 2).ToArray());
    }

    [Test]
    public void ParametersOfTheLentEmbeddingAreFilteredByTheHeadsName()
    {
        // mergekit reads t1's parameters for the weight 'lm_head.weight' even though the tensor it loads is its embedding.
        WriteTied(7, "t1");
        var (output, _) = Run("""
            merge_method: linear
            parameters: {normalize: false}
            models:
              - model: a
                parameters: {weight: 1}
              - model: t1
                parameters:
                  weight:
                    - filter: lm_head
                      value: 0.25
                    - filter: embed_tokens
                      value: 0.5
                    - value: 1
            """);
        var head = In("a", "lm_head.weight");
        var embed = In("t1", "model.embed_tokens.weight");
        AssertClose(ModelReader.Read(output, "lm_head.weight"), head.Select((x, i) => x + 0.25f * embed[i]).ToArray());
        var aEmbed = In("a", "model.embed_tokens.weight");
        AssertClose(ModelReader.Read(output, "model.embed_tokens.weight"), aEmbed.Select((x, i) => x + 0.5f * embed[i]).ToArray());
    }

    [Test]
    public void ATiedOutputConfigDropsADivergentHeadWithAWarning()
    {
        WriteTied(7, "t1");
        var (output, err) = Run("merge_method: linear\nbase_model: t1\nparameters: {weight: 1}\nmodels:\n  - model: t1\n  - model: a\n");
        Assert.That(Has(output, "lm_head.weight"), Is.False);
        Assert.That(err, Does.Contain("warning").And.Contain("'lm_head.weight' is not written").And.Contain("tie_word_embeddings"));
        Assert.That(Json(Path.Combine(output, "config.json"))["tie_word_embeddings"]!.GetValue<bool>(), Is.True);
    }

    [Test]
    public void TokenizerSourceWithoutABaseTokenizerFailsBeforeAnythingIsWritten()
    {
        // The fixtures carry no tokenizer files; TokenizerSourceTests covers the merges that have them.
        var (_, err) = MergeFails("merge_method: linear\ntokenizer_source: union\nparameters: {weight: 1}\nmodels:\n  - model: a\n  - model: b\n");
        Assert.That(err, Does.Contain("no tokenizer.json"));
        Assert.That(Directory.Exists(Dir["out"]), Is.False);
    }

    [Test]
    public void ACutVocabularyIsWhatTheConfigSays()
    {
        var big = Fixtures.Model(5, vocab: Fixtures.Vocab + 2);
        big.Config["vocab_size"] = Fixtures.Vocab + 2;
        big.Write(Dir["bigvocab"]);
        var (output, err) = Run("merge_method: linear\nparameters: {weight: 1}\nmodels:\n  - model: bigvocab\n  - model: a\n");
        Assert.That(ModelReader.Info(output, "lm_head.weight").Shape, Is.EqualTo(new long[] { Fixtures.Vocab, Fixtures.Hidden }));
        Assert.That(Json(Path.Combine(output, "config.json"))["vocab_size"]!.GetValue<int>(), Is.EqualTo(Fixtures.Vocab));
        Assert.That(err, Does.Contain("common submatrix").And.Contain("vocab_size set to 6"));
    }

    private void WriteTokenizerConfig(string model, string? template)
    {
        var o = new JsonObject { ["tokenizer_class"] = "PreTrainedTokenizerFast", ["model_max_length"] = 2048 };
        if (template is not null)
            o["chat_template"] = template;
        File.WriteAllText(Path.Combine(Dir[model], "tokenizer_config.json"), o.ToJsonString());
    }

    private const string Linear = "merge_method: linear\nbase_model: base\nparameters: {weight: 1}\nmodels:\n  - model: a\n  - model: b\n";

    private string WrittenTemplate(string output) => Json(Path.Combine(output, "tokenizer_config.json"))["chat_template"]!.GetValue<string>();

    [Test]
    public void ABuiltInTemplateIsWrittenToTokenizerConfig()
    {
        WriteTokenizerConfig("base", "{{ base template }}");
        File.WriteAllText(Path.Combine(Dir["base"], "chat_template.jinja"), "{{ jinja file the output must not keep }}");
        var (output, _) = Run(Linear + "chat_template: chatml\n");
        Assert.That(WrittenTemplate(output), Is.EqualTo(ChatTemplates.BuiltIn["chatml"]));
        Assert.That(WrittenTemplate(output), Does.Contain("<|im_start|>"));
        Assert.That(Json(Path.Combine(output, "tokenizer_config.json"))["model_max_length"]!.GetValue<int>(), Is.EqualTo(2048), "other keys kept");
        Assert.That(File.Exists(Path.Combine(output, "chat_template.jinja")), Is.False, "transformers would prefer it over tokenizer_config.json");
    }

    [Test]
    public void AutoPicksTheMostCommonTemplateOfTheModels()
    {
        WriteTokenizerConfig("base", "{% for m in messages %}{{ m.content }}{% endfor %} base");
        WriteTokenizerConfig("a", null);
        File.WriteAllText(Path.Combine(Dir["a"], "chat_template.jinja"), "{% for m in messages %}{{ m.content }}{% endfor %} shared\n");
        WriteTokenizerConfig("b", "  {% for m in messages %}{{ m.content }}{% endfor %} shared");
        var (output, _) = Run(Linear + "chat_template: auto\n");
        Assert.That(WrittenTemplate(output), Is.EqualTo("{% for m in messages %}{{ m.content }}{% endfor %} shared"), "stripped, as mergekit compares them");
    }

    [Test]
    public void AutoWithoutTemplatesLeavesTheTokenizerAsItWas()
    {
        WriteTokenizerConfig("base", null);
        var (output, _) = Run(Linear + "chat_template: auto\n");
        Assert.That(Json(Path.Combine(output, "tokenizer_config.json")).ContainsKey("chat_template"), Is.False);
    }

    [Test]
    public void AnInlineJinjaTemplateIsWrittenAsGiven()
    {
        WriteTokenizerConfig("base", null);
        const string jinja = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}";
        var (output, _) = Run(Linear + "chat_template: \"" + jinja.Replace("\n", "\\n") + "\"\n");
        Assert.That(WrittenTemplate(output), Is.EqualTo(jinja));
    }

    [Test]
    public void AnUnknownTemplateNameListsTheBuiltIns()
    {
        WriteTokenizerConfig("base", null);
        var (_, err) = MergeFails(Linear + "chat_template: vicuna\n");
        Assert.That(err, Does.Contain("'vicuna'").And.Contain("chatml").And.Contain("llama3").And.Contain("alpaca"));
        Assert.That(Directory.Exists(Dir["out"]), Is.False);
    }

    [Test]
    public void ATemplateWithoutATokenizerIsAWarning()
    {
        var (output, err) = Run(Linear + "chat_template: chatml\n");
        Assert.That(err, Does.Contain("warning").And.Contain("chat template is not saved"));
        Assert.That(File.Exists(Path.Combine(output, "tokenizer_config.json")), Is.False);
    }
}
