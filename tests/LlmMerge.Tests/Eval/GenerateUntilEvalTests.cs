using System.Text.Json;
using LlmMerge.Cli.Commands;
using LlmMerge.Tests.Support;
using LlmMerge.Tokenizers;

namespace LlmMerge.Tests.Eval;

/// <summary>
/// generate_until tasks through the eval verb with a fake model whose generation per prompt the test decides: stop
/// sequences, filter chains scored apart, exact_match, answers read as choices, and the refusals of bad task files.
/// </summary>
[NonParallelizable]
public class GenerateUntilEvalTests
{
    private TempDir _dir = null!;
    private HfTokenizer _tok = null!;
    private List<FakeCausalLm> _models = null!;
    private Dictionary<string, string> _answers = null!;

    private string ModelDir => _dir["model"];

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir();
        _tok = EvalTokenizer.Write(ModelDir);
        _models = [];
        _answers = [];
        EvalCommand.ModelFactory = (_, _, _) =>
        {
            var m = new FakeCausalLm
            {
                // The generation for a prompt: the answer registered for the question it ends with.
                GenerationOf = prompt =>
                {
                    string text = _tok.Decode(prompt);
                    var hit = _answers.FirstOrDefault(a => text.EndsWith(a.Key, StringComparison.Ordinal));
                    return hit.Value is null ? [] : _tok.Encode(hit.Value, addSpecialTokens: false);
                },
            };
            _models.Add(m);
            return m;
        };
        File.WriteAllLines(_dir["sums.jsonl"],
        [
            """{"question": "Q: 2 plus 3?\nA:", "answer": "5", "choices": ["4", "5", "6"], "label": 1}""",
            """{"question": "Q: 3 plus 4?\nA:", "answer": "7", "choices": ["6", "7", "8"], "label": 1}""",
            """{"question": "Q: 4 plus 5?\nA:", "answer": "9", "choices": ["8", "9", "10"], "label": 1}""",
        ]);
    }

    [TearDown]
    public void TearDown()
    {
        EvalCommand.ModelFactory = null;
        _dir.Dispose();
    }

    private const string Head = """
        task: sums
        dataset_path: sums.jsonl
        output_type: generate_until
        test_split: train
        doc_to_text: "{{question}}"

        """;

    private List<JsonElement> Samples() => File.ReadAllLines(_dir["s.jsonl"]).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    private JsonElement Metrics() =>
        JsonDocument.Parse(File.ReadAllText(_dir["r.json"])).RootElement.GetProperty("tasks").GetProperty("sums").GetProperty("metrics");

    private (int Exit, string Out, string Err) Eval(string yaml, params string[] extra)
    {
        File.WriteAllText(_dir["sums.yaml"], yaml);
        return CliRunner.Run(["eval", ModelDir, "--tasks", _dir["sums.yaml"], "--output", _dir["r.json"], "--log-samples", _dir["s.jsonl"],
            "--submission", _dir["sub.csv"], "--quiet", .. extra]);
    }

    [Test]
    public void EachFilterChainIsScoredSeparatelyAfterTheStopSequence()
    {
        _answers["2 plus 3?\nA:"] = " The answer is 5\nand then more";
        _answers["3 plus 4?\nA:"] = " I think 3 then 7";
        _answers["4 plus 5?\nA:"] = " The answer is 8.";
        var (exit, _, err) = Eval(Head + """
            doc_to_target: answer
            generation_kwargs:
              until: ["\n"]
              max_gen_toks: 16
              do_sample: false
            filter_list:
              - name: strict-match
                filter:
                  - function: regex
                    regex_pattern: "The answer is (\\d+)"
                  - function: take_first
              - name: flexible-extract
                filter:
                  - function: regex
                    regex_pattern: "(\\d+)"
                    group_select: -1
                  - function: take_first
            metric_list:
              - metric: exact_match
            """);
        Assert.That(exit, Is.EqualTo(0), err);
        // strict-match: 5 right, [invalid], 8 wrong; flexible-extract (last number): 5, 7 right, 8 wrong.
        Assert.That(Metrics().GetProperty("exact_match,strict-match").GetDouble(), Is.EqualTo(1.0 / 3).Within(1e-12));
        Assert.That(Metrics().GetProperty("exact_match,flexible-extract").GetDouble(), Is.EqualTo(2.0 / 3).Within(1e-12));
        Assert.That(_models.Single().GenerateCalls.Select(c => c.MaxNewTokens), Is.All.EqualTo(16));

        var s = Samples();
        Assert.That(s[0].GetProperty("resps")[0].GetString(), Is.EqualTo(" The answer is 5"), "cut before the first stop sequence");
        Assert.That(s[1].GetProperty("filtered_resps").GetProperty("strict-match").GetString(), Is.EqualTo("[invalid]"));
        Assert.That(s[1].GetProperty("filtered_resps").GetProperty("flexible-extract").GetString(), Is.EqualTo("7"));
        Assert.That(s[1].GetProperty("prediction").GetString(), Is.EqualTo("[invalid]"), "the first chain decides the prediction");
        var args = s[2].GetProperty("arguments").GetProperty("gen_args_0");
        Assert.That(args.GetProperty("arg_0").GetString(), Is.EqualTo("Q: 4 plus 5?\nA:"));
        Assert.That(args.GetProperty("arg_1").GetRawText(), Is.EqualTo("""{"until":["\n"],"max_gen_toks":16,"do_sample":false}"""));
        Assert.That(File.ReadAllLines(_dir["sub.csv"]).Skip(1), Is.EqualTo(new[] { "0,5", "1,[invalid]", "2,8" }));
    }

    [Test]
    public void ChainOfThoughtMultipleChoiceMapsAnswersToChoiceIndices()
    {
        _answers["2 plus 3?\nA:"] = " 2 and 3 make 5, so the answer is (B)";
        _answers["3 plus 4?\nA:"] = " so the answer is 7";
        _answers["4 plus 5?\nA:"] = " so the answer is (A)";
        var (exit, _, err) = Eval(Head + """
            doc_to_choice: "{{choices}}"
            doc_to_target: label
            filter_list:
              - name: letter
                filter:
                  - function: regex
                    regex_pattern: "answer is \\(?([A-C])\\)?"
                  - function: take_first
              - name: number
                filter:
                  - function: regex
                    regex_pattern: "answer is (\\d+)"
                  - function: take_first
            metric_list:
              - metric: exact_match
              - metric: acc
            """);
        Assert.That(exit, Is.EqualTo(0), err);
        var m = Metrics();
        // letter: B -> 1 right, none, A -> 0 wrong. number: none, 7 -> 1 right, none. exact_match compares with the
        // gold choice's text ("5", "7", "9"), as lm-eval does: only the number chain's 7.
        Assert.That(m.GetProperty("acc").GetDouble(), Is.EqualTo(1.0 / 3).Within(1e-12));
        Assert.That(m.GetProperty("acc,letter").GetDouble(), Is.EqualTo(1.0 / 3).Within(1e-12));
        Assert.That(m.GetProperty("acc,number").GetDouble(), Is.EqualTo(1.0 / 3).Within(1e-12));
        Assert.That(m.GetProperty("exact_match,letter").GetDouble(), Is.Zero);
        Assert.That(m.GetProperty("exact_match,number").GetDouble(), Is.EqualTo(1.0 / 3).Within(1e-12));
        var s = Samples();
        Assert.That(s.Select(x => x.GetProperty("prediction").ValueKind == JsonValueKind.Null ? -1 : x.GetProperty("prediction").GetInt32()), Is.EqualTo(new[] { 1, -1, 0 }));
        Assert.That(s.Select(x => x.GetProperty("target").GetInt32()), Is.All.EqualTo(1));
        Assert.That(File.ReadAllLines(_dir["sub.csv"]).Skip(1), Is.EqualTo(new[] { "0,1", "1,-1", "2,0" }), "the submission stays choice indices");
        // No generation_kwargs: lm-eval's defaults (until the few-shot delimiter, 256 tokens, greedy).
        Assert.That(s[0].GetProperty("arguments").GetProperty("gen_args_0").GetProperty("arg_1").GetProperty("max_gen_toks").GetInt32(), Is.EqualTo(256));
    }

    [Test]
    public void RepeatsOfAGreedyRowAreOneVoteEach()
    {
        _answers["2 plus 3?\nA:"] = " 5";
        var (exit, _, err) = Eval(Head + """
            doc_to_target: answer
            repeats: 3
            filter_list:
              - name: vote
                filter:
                  - function: majority_vote
                  - function: take_first
            metric_list:
              - metric: exact_match
                ignore_case: true
                regexes_to_ignore: ["\\s"]
            """, "--limit", "1");
        Assert.That(exit, Is.EqualTo(0), err);
        Assert.That(_models.Single().GenerateCalls, Has.Count.EqualTo(3), "three generations of the row");
        Assert.That(Samples()[0].GetProperty("resps").GetArrayLength(), Is.EqualTo(3));
        Assert.That(Metrics().GetProperty("exact_match,vote").GetDouble(), Is.EqualTo(1), "' 5' equals '5' once whitespace is ignored");
    }

    [TestCase("doc_to_target: answer\ngeneration_kwargs:\n  num_beams: 4\n", "sums.yaml:8:", "generation_kwargs.num_beams is not supported")]
    [TestCase("doc_to_target: answer\ngeneration_kwargs:\n  do_sample: true\n", "sums.yaml:8:", "sampling needs a temperature above 0")]
    [TestCase("doc_to_target: answer\nfilter_list:\n  - name: x\n    filter:\n      - function: regex\n        regex_pattern: \"(\\\\d+\"\n      - function: take_first\n",
        "sums.yaml:11:", "does not compile")]
    [TestCase("doc_to_target: answer\nfilter_list:\n  - name: x\n    filter:\n      - function: extract_answer\n      - function: take_first\n",
        "sums.yaml:10:", "unknown filter function 'extract_answer'")]
    [TestCase("doc_to_target: answer\nfilter_list:\n  - name: x\n    filter:\n      - function: multi_choice_regex\n      - function: take_first\n",
        "sums.yaml:10:", "filter function 'multi_choice_regex' is not supported")]
    [TestCase("doc_to_target: answer\nfilter_list:\n  - name: x\n    filter:\n      - function: regex\n", "sums.yaml:10:", "must end with take_first")]
    [TestCase("doc_to_target: answer\nmetric_list:\n  - metric: acc\n", "sums.yaml:8:", "needs doc_to_choice")]
    [TestCase("doc_to_target: answer\nmetric_list:\n  - metric: exact_match\n    ignore_spaces: true\n", "sums.yaml:9:", "'ignore_spaces' is not an option of exact_match")]
    public void BadGenerationTaskFilesAreRefusedByNameBeforeTheModelLoads(string tail, string where, string message)
    {
        var (exit, _, err) = Eval(Head + tail);
        Assert.That(exit, Is.Not.EqualTo(0));
        Assert.That(err.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(err, Does.Contain(where).And.Contain(message));
        Assert.That(_models, Is.Empty, "refused before the model loads");
        Assert.That(File.Exists(_dir["r.json"]), Is.False);
    }
}
