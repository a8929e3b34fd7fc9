using System.Text.Json;
using LlmMerge.Cli.Commands;
using LlmMerge.Eval.Tasks;
using LlmMerge.Tests.Support;
using LlmMerge.Tokenizers;

namespace LlmMerge.Tests.Eval;

/// <summary>The eval verb end to end, with the fake model injected through <see cref="EvalCommand.ModelFactory"/>.</summary>
[NonParallelizable]
public class EvalCommandTests
{
    private TempDir _dir = null!;
    private HfTokenizer _tok = null!;
    private List<FakeCausalLm> _models = null!;
    private Func<int, double> _logProb = _ => -1.0;
    private IReadOnlyList<int> _generation = [];
    private string _device = "";

    private string ModelDir => _dir["model"];

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir();
        _tok = EvalTokenizer.Write(ModelDir);
        _models = [];
        _logProb = t => -0.25 - (t % 7);
        _generation = [];
        EvalCommand.ModelFactory = (dir, device, dtype) =>
        {
            Assert.That(dir, Is.EqualTo(ModelDir));
            _device = device;
            var m = new FakeCausalLm(_logProb) { Generation = _generation };
            _models.Add(m);
            return m;
        };
    }

    [TearDown]
    public void TearDown()
    {
        EvalCommand.ModelFactory = null;
        _dir.Dispose();
    }

    [Test]
    public void CosmosQaEndToEndWritesResultsSamplesAndAValidSubmission()
    {
        string cosmos = Path.Combine(CompetitionData.Folder(), "cosmos_qa.csv");
        var (exit, stdout, stderr) = CliRunner.Run("eval", ModelDir, "--tasks", cosmos, "--output", _dir["out/RESULTS.json"],
            "--log-samples", _dir["out/SAMPLES.jsonl"], "--limit", "6", "--submission", _dir["out/submission.csv"], "--device", "cpu");
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain("eval: cosmos_qa 6/6 rows"));
        Assert.That(stdout, Does.Contain("cosmos_qa: 6 rows, acc"));
        Assert.That(_models.Single().Disposed, "the model is disposed after the run");
        Assert.That(_device, Is.EqualTo("cpu"));

        var task = CompetitionCsvTask.Load(cosmos);
        var rows = task.Rows.Take(6).ToList();

        // Samples: one line per row, log-likelihoods worked out from the fake's table and the contract's encoding.
        var samples = File.ReadAllLines(_dir["out/SAMPLES.jsonl"]).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(samples, Has.Count.EqualTo(6));
        int correct = 0, correctNorm = 0;
        for (int i = 0; i < 6; i++)
        {
            var s = samples[i];
            var row = rows[i];
            Assert.That(s.GetProperty("task").GetString(), Is.EqualTo("cosmos_qa"));
            Assert.That(s.GetProperty("id").GetString(), Is.EqualTo(row.Id));
            Assert.That(s.GetProperty("target").GetInt32(), Is.EqualTo(row.Target));
            var lls = s.GetProperty("loglikelihoods").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var expected = row.Choices.Select(c =>
            {
                var ctx = _tok.Encode(row.Context);
                return _tok.Encode(row.Context + " " + c).Skip(ctx.Count).Sum(_logProb);
            }).ToArray();
            Assert.That(lls, Is.EqualTo(expected).Within(1e-9), $"row {row.Id}");
            int prediction = Array.IndexOf(expected, expected.Max());
            int predictionNorm = Enumerable.Range(0, expected.Length).OrderByDescending(k => expected[k] / row.Choices[k].Length).ThenBy(k => k).First();
            Assert.That(s.GetProperty("prediction").GetInt32(), Is.EqualTo(prediction));
            Assert.That(s.GetProperty("prediction_norm").GetInt32(), Is.EqualTo(predictionNorm));
            if (prediction == row.Target) correct++;
            if (predictionNorm == row.Target) correctNorm++;
        }

        using var results = JsonDocument.Parse(File.ReadAllText(_dir["out/RESULTS.json"]));
        var r = results.RootElement;
        var t = r.GetProperty("tasks").GetProperty("cosmos_qa");
        Assert.That(t.GetProperty("rows").GetInt32(), Is.EqualTo(6));
        Assert.That(t.GetProperty("labeled_rows").GetInt32(), Is.EqualTo(6));
        Assert.That(t.GetProperty("metrics").GetProperty("acc").GetDouble(), Is.EqualTo(correct / 6.0).Within(1e-12));
        Assert.That(t.GetProperty("metrics").GetProperty("acc_norm").GetDouble(), Is.EqualTo(correctNorm / 6.0).Within(1e-12));
        Assert.That(t.GetProperty("chance").GetDouble(), Is.EqualTo(rows.Average(x => 1.0 / x.Choices.Count)).Within(1e-12), "guessing's accuracy");
        // The graph's tasks read RESULTS.json through LlmMerge.Contracts: they see what eval wrote.
        var read = Contracts.Results.ResultsSchema.Read(_dir["out/RESULTS.json"])!;
        Assert.That(read.Task("cosmos_qa")!.Accuracy, Is.EqualTo(correct / 6.0).Within(1e-12));
        Assert.That(read.Task("cosmos_qa")!.File, Is.EqualTo(cosmos));
        Assert.That(Contracts.Results.ResultsSchema.Write(read), Is.EqualTo(File.ReadAllText(_dir["out/RESULTS.json"])), "the schema reads and writes the same text");
        Assert.That(r.GetProperty("average").GetProperty("acc").GetDouble(), Is.EqualTo(correct / 6.0).Within(1e-12));
        Assert.That(r.GetProperty("scoring").GetString(), Is.EqualTo("lm-eval"));
        Assert.That(r.GetProperty("wall_time_seconds").GetDouble(), Is.GreaterThanOrEqualTo(0));
        Assert.That(r.GetProperty("tokens").GetInt64(), Is.GreaterThan(0));
        Assert.That(r.GetProperty("tokens_per_second").GetDouble(), Is.GreaterThan(0));
        Assert.That(r.GetProperty("peak_rss_bytes").GetInt64(), Is.GreaterThan(10_000_000));

        // The submission: the competition's id,prediction with the same ids, predictions valid choice indices.
        var submission = CsvFile.Parse(File.ReadAllText(_dir["out/submission.csv"]), "submission");
        Assert.That(submission[0].Fields, Is.EqualTo(new[] { "id", "prediction" }));
        Assert.That(submission.Skip(1).Select(s => s.Fields[0]), Is.EqualTo(rows.Select(x => x.Id)));
        for (int i = 0; i < 6; i++)
        {
            int p = int.Parse(submission[i + 1].Fields[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.That(p, Is.InRange(0, rows[i].Choices.Count - 1));
            Assert.That(p, Is.EqualTo(samples[i].GetProperty("prediction").GetInt32()));
        }

        Assert.That(Directory.GetFiles(_dir["out"], "*.tmp"), Is.Empty, "no temporary files are left behind");
    }

    [Test]
    public void StarterKitModeChangesTheScores()
    {
        string cosmos = Path.Combine(CompetitionData.Folder(), "cosmos_qa.csv");
        var (exit, _, stderr) = CliRunner.Run("eval", ModelDir, "--tasks", cosmos, "--output", _dir["r.json"], "--log-samples", _dir["s.jsonl"],
            "--limit", "2", "--scoring", "starter-kit", "--quiet");
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(stderr, Is.Empty, "--quiet prints no progress");
        var row = CompetitionCsvTask.Load(cosmos).Rows[0];
        var first = JsonDocument.Parse(File.ReadAllLines(_dir["s.jsonl"])[0]).RootElement;
        var lls = first.GetProperty("loglikelihoods").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        int eos = _tok.EosTokenId!.Value;
        var expected = row.Choices.Select(c => _tok.Encode(c, addSpecialTokens: false).Append(eos).Skip(1).Sum(_logProb)).ToArray();
        Assert.That(lls, Is.EqualTo(expected).Within(1e-9));
        Assert.That(JsonDocument.Parse(File.ReadAllText(_dir["r.json"])).RootElement.GetProperty("scoring").GetString(), Is.EqualTo("starter-kit"));
    }

    [Test]
    public void XsumGenerationRowsGoToTheSubmissionAsText()
    {
        _generation = [.. _tok.Encode(" A summary, \"quoted\"\nover two lines.", addSpecialTokens: false), _tok.EosTokenId!.Value];
        string xsum = Path.Combine(CompetitionData.Folder(), "xsum.csv");
        var (exit, stdout, stderr) = CliRunner.Run("eval", ModelDir, "--tasks", xsum, "--output", _dir["r.json"], "--log-samples", _dir["s.jsonl"],
            "--limit", "3", "--submission", _dir["sub.csv"]);
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("xsum: 3 rows"));

        var call = _models.Single().GenerateCalls;
        Assert.That(call, Has.Count.EqualTo(3));
        Assert.That(call.All(c => c.MaxNewTokens == 64), "the starter kit's max_gen_len");
        var rows = CompetitionCsvTask.Load(xsum).Rows;
        // Batched longest prompt first; every row's prompt is asked for once.
        Assert.That(call.Select(c => string.Join(',', c.Prompt)), Is.EquivalentTo(rows.Take(3).Select(r => string.Join(',', _tok.Encode(r.Context)))));
        Assert.That(call.Select(c => c.Prompt.Length), Is.Ordered.Descending);

        var submission = CsvFile.Parse(File.ReadAllText(_dir["sub.csv"]), "sub");
        Assert.That(submission, Has.Count.EqualTo(4));
        Assert.That(submission.Skip(1).Select(s => s.Fields[0]), Is.EqualTo(new[] { "0", "1", "2" }));
        Assert.That(submission.Skip(1).Select(s => s.Fields[1]), Is.All.EqualTo(" A summary, \"quoted\"\nover two lines."));

        var t = JsonDocument.Parse(File.ReadAllText(_dir["r.json"])).RootElement.GetProperty("tasks").GetProperty("xsum");
        Assert.That(t.GetProperty("generation_rows").GetInt32(), Is.EqualTo(3));
        Assert.That(t.GetProperty("metrics").GetProperty("acc").ValueKind, Is.EqualTo(JsonValueKind.Null), "no labeled multiple-choice rows");
        foreach (string rouge in new[] { "rouge1", "rouge2", "rougeL" })
            Assert.That(t.GetProperty("metrics").GetProperty(rouge).GetDouble(), Is.InRange(0.0, 1.0), rouge);

        // Each generation row is logged with what the model was asked and what it wrote.
        var samples = File.ReadAllLines(_dir["s.jsonl"]).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(samples, Has.Count.EqualTo(3));
        for (int i = 0; i < 3; i++)
        {
            var args = samples[i].GetProperty("arguments").GetProperty("gen_args_0");
            Assert.That(args.GetProperty("arg_0").GetString(), Is.EqualTo(rows[i].Context));
            Assert.That(args.GetProperty("arg_1").GetProperty("max_gen_toks").GetInt32(), Is.EqualTo(64));
            Assert.That(samples[i].GetProperty("resps")[0].GetString(), Is.EqualTo(" A summary, \"quoted\"\nover two lines."));
            Assert.That(samples[i].GetProperty("target").GetString(), Is.EqualTo(rows[i].TargetText));
            Assert.That(samples[i].GetProperty("metrics").GetProperty("rouge1").GetDouble(), Is.InRange(0.0, 1.0));
        }
    }

    [Test]
    public void SeveralTasksAreAveraged()
    {
        File.WriteAllText(_dir["a.csv"], "id,input,target,answer_choices,eval_type\n0,Is the sky blue?,0,\"['yes', 'no']\",multiple_choice\n");
        File.WriteAllLines(_dir["b.jsonl"], ["""{"q": "Is grass red?", "label": 1}""", """{"q": "Is the sky blue?", "label": 0}"""]);
        File.WriteAllText(_dir["b.yaml"], "task: bee\ndataset_path: b.jsonl\ntest_split: train\ndoc_to_text: \"Question: {{q}}\\nAnswer:\"\ndoc_to_choice: [\"yes\", \"no\"]\ndoc_to_target: label\noutput_type: multiple_choice\n");
        var (exit, _, stderr) = CliRunner.Run("eval", ModelDir, "--tasks", $"{_dir["a.csv"]},{_dir["b.yaml"]}", "--output", _dir["r.json"], "--quiet");
        Assert.That(exit, Is.EqualTo(0), stderr);
        var r = JsonDocument.Parse(File.ReadAllText(_dir["r.json"])).RootElement;
        double a = r.GetProperty("tasks").GetProperty("a").GetProperty("metrics").GetProperty("acc").GetDouble();
        double b = r.GetProperty("tasks").GetProperty("bee").GetProperty("metrics").GetProperty("acc").GetDouble();
        Assert.That(r.GetProperty("average").GetProperty("acc").GetDouble(), Is.EqualTo((a + b) / 2).Within(1e-12));
        Assert.That(r.GetProperty("tasks").GetProperty("bee").GetProperty("rows").GetInt32(), Is.EqualTo(2));
    }

    [Test]
    public void BadInputIsOneLineNamingFileAndLineAndLeavesNoOutputs()
    {
        File.WriteAllText(_dir["bad.csv"], "id,input,target,answer_choices,eval_type\n0,\"q\nq\",0,\"['a', 'b']\",multiple_choice\n1,q,0,\"['a', 'b\",multiple_choice\n");
        var (exit, stdout, stderr) = CliRunner.Run("eval", ModelDir, "--tasks", _dir["bad.csv"], "--output", _dir["r.json"], "--log-samples", _dir["s.jsonl"]);
        Assert.That(exit, Is.Not.EqualTo(0));
        Assert.That(stderr.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), stderr);
        Assert.That(stderr, Does.StartWith("llmmerge: error: ").And.Contain("bad.csv:4"));
        Assert.That(File.Exists(_dir["r.json"]) || File.Exists(_dir["s.jsonl"]), Is.False);
        Assert.That(_models, Is.Empty, "task files are checked before the model loads");
    }

    [TestCase("nowhere.csv", "task file not found")]
    [TestCase("task.txt", "unknown task file kind")]
    public void MissingOrUnknownTaskFiles(string name, string message)
    {
        if (name.EndsWith(".txt", StringComparison.Ordinal)) File.WriteAllText(_dir[name], "x");
        var (exit, _, stderr) = CliRunner.Run("eval", ModelDir, "--tasks", _dir[name], "--output", _dir["r.json"]);
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain(name).And.Contain(message));
    }

    [Test]
    public void MissingModelFolderIsNamed()
    {
        File.WriteAllText(_dir["a.csv"], "id,input,target,answer_choices,eval_type\n0,q,0,\"['yes', 'no']\",multiple_choice\n");
        var (exit, _, stderr) = CliRunner.Run("eval", _dir["no-model"], "--tasks", _dir["a.csv"], "--output", _dir["r.json"]);
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain("no-model").And.Contain("not found"));
    }

    [Test]
    public void FewshotOnACompetitionCsvIsRefused()
    {
        File.WriteAllText(_dir["a.csv"], "id,input,target,answer_choices,eval_type\n0,q,0,\"['yes', 'no']\",multiple_choice\n");
        var (exit, _, stderr) = CliRunner.Run("eval", ModelDir, "--tasks", _dir["a.csv"], "--output", _dir["r.json"], "--num-fewshot", "2");
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain("a.csv").And.Contain("--num-fewshot"));
    }

    [Test]
    public void TheVerbIsListedWithItsOptions()
    {
        var (_, stdout, _) = CliRunner.Run("eval", "--help");
        Assert.That(stdout, Does.Contain("--tasks").And.Contain("--log-samples").And.Contain("--submission").And.Contain("--scoring").And.Contain("--num-fewshot"));
    }
}
