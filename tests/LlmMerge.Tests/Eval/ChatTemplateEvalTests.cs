using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMerge.Cli.Commands;
using LlmMerge.Tests.Chat;
using LlmMerge.Tests.Support;
using LlmMerge.Tokenizers;

namespace LlmMerge.Tests.Eval;

/// <summary>
/// --apply-chat-template, --fewshot-as-multiturn and --system-instruction through the eval verb: the context each row
/// is scored on, as SAMPLES.jsonl logs it, worked out by hand from the template and lm-eval's fewshot_context.
/// </summary>
[NonParallelizable]
public class ChatTemplateEvalTests
{
    private TempDir _dir = null!;
    private HfTokenizer _tok = null!;
    private List<FakeCausalLm> _models = null!;

    private string ModelDir => _dir["model"];

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir();
        _tok = EvalTokenizer.Write(ModelDir);
        _models = [];
        EvalCommand.ModelFactory = (_, _, _) =>
        {
            var m = new FakeCausalLm(t => -1 - (t % 5));
            _models.Add(m);
            return m;
        };
        File.WriteAllLines(_dir["bool.jsonl"],
        [
            """{"q": "Is the sky blue?", "label": 1}""",
            """{"q": "Is grass red?", "label": 0}""",
            """{"q": "Is snow cold?", "label": 1}""",
        ]);
        File.WriteAllText(_dir["bool.yaml"], """
            task: bool
            dataset_path: bool.jsonl
            output_type: multiple_choice
            test_split: train
            description: "Answer yes or no."
            doc_to_text: "Question: {{q}}\nAnswer:"
            doc_to_choice: ["no", "yes"]
            doc_to_target: label
            num_fewshot: 1
            fewshot_config:
              sampler: first_n
            """);
    }

    [TearDown]
    public void TearDown()
    {
        EvalCommand.ModelFactory = null;
        _dir.Dispose();
    }

    private void SetTemplate(string template)
    {
        string path = Path.Combine(ModelDir, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config["chat_template"] = template;
        File.WriteAllText(path, config.ToJsonString());
        _tok = HfTokenizer.FromFolder(ModelDir);
    }

    private (int Exit, string Err, List<JsonElement> Samples) Eval(params string[] extra)
    {
        var (exit, _, err) = CliRunner.Run(["eval", ModelDir, "--tasks", _dir["bool.yaml"], "--output", _dir["r.json"], "--log-samples", _dir["s.jsonl"], "--quiet", .. extra]);
        var samples = exit == 0 ? File.ReadAllLines(_dir["s.jsonl"]).Select(l => JsonDocument.Parse(l).RootElement).ToList() : [];
        return (exit, err, samples);
    }

    private static (string Context, string Continuation) Arguments(JsonElement sample, int choice)
    {
        var a = sample.GetProperty("arguments").GetProperty($"gen_args_{choice}");
        return (a.GetProperty("arg_0").GetString()!, a.GetProperty("arg_1").GetString()!);
    }

    // Row 2 ("Is snow cold?") takes row 0 as its one example (first_n, leaving the row itself out).
    [Test]
    public void FewshotExamplesBecomeEarlierTurnsOfTheTemplate()
    {
        SetTemplate(PublishedChatTemplates.Decode(PublishedChatTemplates.Qwen2Json));
        var (exit, err, samples) = Eval("--apply-chat-template", "--system-instruction", "Be brief.");
        Assert.That(exit, Is.EqualTo(0), err);
        string expected =
            "<|im_start|>system\nBe brief.\n\nAnswer yes or no.<|im_end|>\n"
            + "<|im_start|>user\nQuestion: Is the sky blue?\nAnswer:<|im_end|>\n"
            + "<|im_start|>assistant\nyes<|im_end|>\n"
            + "<|im_start|>user\nQuestion: Is snow cold?\nAnswer:<|im_end|>\n"
            + "<|im_start|>assistant\n";
        Assert.That(Arguments(samples[2], 0), Is.EqualTo((expected, "no")), "with a chat template the choice follows without the target delimiter");
        Assert.That(Arguments(samples[2], 1), Is.EqualTo((expected, "yes")));

        // lm-eval's encoding moves the context's trailing newline to the continuation.
        var call = _models.Single().ScoreCalls.First(c => _tok.Decode(c.Context).Contains("snow", StringComparison.Ordinal));
        Assert.That(call.Context, Is.EqualTo(_tok.Encode(expected.TrimEnd())));
        var r = JsonDocument.Parse(File.ReadAllText(_dir["r.json"])).RootElement;
        Assert.That(r.GetProperty("chat_template").GetString(), Does.EndWith("tokenizer_config.json"));
    }

    [Test]
    public void WithoutMultiturnTheExamplesFoldIntoOneUserTurn()
    {
        SetTemplate(PublishedChatTemplates.Decode(PublishedChatTemplates.Qwen2Json));
        var (exit, err, samples) = Eval("--apply-chat-template", "--fewshot-as-multiturn", "false");
        Assert.That(exit, Is.EqualTo(0), err);
        Assert.That(Arguments(samples[2], 1).Context, Is.EqualTo(
            "<|im_start|>system\nAnswer yes or no.<|im_end|>\n"
            + "<|im_start|>user\nQuestion: Is the sky blue?\nAnswer: yes\n\nQuestion: Is snow cold?\nAnswer:<|im_end|>\n"
            + "<|im_start|>assistant\n"));
    }

    [Test]
    public void ASystemInstructionWithoutATemplateGoesBeforeTheDescription()
    {
        var (exit, err, samples) = Eval("--system-instruction", "Be brief.");
        Assert.That(exit, Is.EqualTo(0), err);
        Assert.That(Arguments(samples[2], 1), Is.EqualTo(("Be brief.\n\nAnswer yes or no.Question: Is the sky blue?\nAnswer: yes\n\nQuestion: Is snow cold?\nAnswer:", " yes")));
        var (plainExit, _, plain) = Eval();
        Assert.That(plainExit, Is.EqualTo(0));
        Assert.That(Arguments(plain[2], 1).Context, Is.EqualTo("Answer yes or no.Question: Is the sky blue?\nAnswer: yes\n\nQuestion: Is snow cold?\nAnswer:"));
    }

    [Test]
    public void ATemplateThatWritesBosIsNotGivenASecondOne()
    {
        SetTemplate(PublishedChatTemplates.Decode(PublishedChatTemplates.Llama3Json));
        var (exit, err, samples) = Eval("--apply-chat-template");
        Assert.That(exit, Is.EqualTo(0), err);
        string context = Arguments(samples[0], 0).Context;
        Assert.That(context, Does.StartWith(EvalTokenizer.Special + "<|start_header_id|>system<|end_header_id|>\n\nAnswer yes or no.<|eot_id|>"));
        int bos = _tok.BosTokenId!.Value;
        foreach (var call in _models.Single().ScoreCalls)
        {
            Assert.That(call.Context[0], Is.EqualTo(bos));
            Assert.That(call.Context.Count(t => t == bos), Is.EqualTo(1), "the template's BOS only");
        }
    }

    [Test]
    public void AnUnsupportedConstructIsRefusedWithFileAndLineBeforeTheModelLoads()
    {
        SetTemplate("{{ bos_token }}\n{% macro turn(m) %}{{ m.content }}{% endmacro %}{% for m in messages %}{{ turn(m) }}{% endfor %}");
        var (exit, err, _) = Eval("--apply-chat-template");
        Assert.That(exit, Is.Not.EqualTo(0));
        Assert.That(err.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(err, Does.Contain("tokenizer_config.json: chat template line 2: the 'macro' statement is not supported"));
        Assert.That(_models, Is.Empty);
    }

    [Test]
    public void ATemplateThatRefusesEveryConversationNamesTheRowAndTheLine()
    {
        SetTemplate("{% for m in messages %}\n{% if m.role == 'user' %}{{ raise_exception('users are not welcome') }}{% endif %}{% endfor %}");
        var (exit, err, _) = Eval("--apply-chat-template");
        Assert.That(exit, Is.Not.EqualTo(0));
        Assert.That(err, Does.Contain("bool.jsonl:1:").And.Contain("chat template line 2: the template raised an exception: users are not welcome"));
        Assert.That(_models, Is.Empty);
    }

    [Test]
    public void MultiturnWithoutATemplateAndAMissingTemplateAreRefused()
    {
        Assert.That(Eval("--fewshot-as-multiturn").Err, Does.Contain("--fewshot-as-multiturn needs --apply-chat-template"));
        Assert.That(Eval("--apply-chat-template").Err, Does.Contain("has no chat_template"));
        Assert.That(Eval("--apply-chat-template", "nonesuch").Err, Does.Contain("--apply-chat-template nonesuch: not a chat template name"));
        var (exit, err, samples) = Eval("--apply-chat-template", "chatml");
        Assert.That(exit, Is.EqualTo(0), err);
        Assert.That(Arguments(samples[0], 0).Context, Does.StartWith("<|im_start|>system\nAnswer yes or no.<|im_end|>\n<|im_start|>user\n"), "mergekit's built-in chatml");
        Assert.That(_models, Has.Count.EqualTo(1));
    }
}
