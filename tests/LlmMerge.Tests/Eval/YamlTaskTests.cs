using LlmMerge.Core;
using LlmMerge.Eval.Tasks;
using LlmMerge.Tests.Support;
using Parquet.Serialization;

namespace LlmMerge.Tests.Eval;

public class YamlTaskTests
{
    private static readonly string[] TrainLines =
    [
        """{"passage": "Train passage one", "question": "is one odd", "label": 1}""",
        """{"passage": "Train passage two", "question": "is two odd", "label": 0}""",
        """{"passage": "Train passage three", "question": "is three odd", "label": 1}""",
        """{"passage": "Train passage four", "question": "is four odd", "label": 0}""",
    ];

    private static readonly string[] ValidationLines =
    [
        """{"passage": "Val passage A", "question": "is the sky blue", "label": 1}""",
        """{"passage": "Val passage B", "question": "is grass red", "label": 0}""",
        """{"passage": "Val passage C", "question": "is snow cold", "label": 1}""",
    ];

    private const string BoolqYaml = """
        task: tiny_boolq
        tag: [tiny]
        dataset_path: json
        dataset_name: null
        dataset_kwargs:
          data_files:
            train: data/train.jsonl
            validation: data/validation.jsonl
        output_type: multiple_choice
        training_split: train
        validation_split: validation
        doc_to_text: "{{passage}}\nQuestion: {{question}}?\nAnswer:"
        doc_to_choice: ["no", "yes"]
        doc_to_target: label
        num_fewshot: 2
        metric_list:
          - metric: acc
            aggregation: mean
            higher_is_better: true
        metadata:
          version: 2.0
        """;

    private static string WriteBoolq(TempDir dir, string yaml = BoolqYaml)
    {
        Directory.CreateDirectory(dir["data"]);
        File.WriteAllLines(dir["data/train.jsonl"], TrainLines);
        File.WriteAllLines(dir["data/validation.jsonl"], ValidationLines);
        File.WriteAllText(dir["task.yaml"], yaml);
        return dir["task.yaml"];
    }

    [Test]
    public void JsonlTaskWithTemplatesAndFewshotFromTheTrainingSplit()
    {
        using var dir = new TempDir();
        var task = YamlTask.Load(WriteBoolq(dir));

        Assert.That(task.Name, Is.EqualTo("tiny_boolq"));
        Assert.That(task.Metrics, Is.EqualTo(new[] { "acc" }));
        Assert.That(task.NumFewshot, Is.EqualTo(2));
        Assert.That(task.Rows, Has.Count.EqualTo(3));
        Assert.That(task.Rows.Select(r => r.Target), Is.EqualTo(new int?[] { 1, 0, 1 }));
        Assert.That(task.Rows[1].Choices, Is.EqualTo(new[] { "no", "yes" }));
        Assert.That(task.Rows[1].Source, Does.EndWith("validation.jsonl:2"));

        // Each context: two training examples (text, delimiter, gold choice, blank line), then the row's text.
        string trainExample(string line)
        {
            var doc = System.Text.Json.JsonDocument.Parse(line).RootElement;
            return $"{doc.GetProperty("passage").GetString()}\nQuestion: {doc.GetProperty("question").GetString()}?\nAnswer: {(doc.GetProperty("label").GetInt32() == 1 ? "yes" : "no")}\n\n";
        }

        var examples = TrainLines.Select(trainExample).ToList();
        foreach (var row in task.Rows)
        {
            string[] parts = row.Context.Split("\n\n");
            Assert.That(parts, Has.Length.EqualTo(3), row.Context);
            Assert.That(examples, Does.Contain(parts[0] + "\n\n"));
            Assert.That(examples, Does.Contain(parts[1] + "\n\n"));
            Assert.That(parts[0], Is.Not.EqualTo(parts[1]), "examples are drawn without replacement");
        }

        Assert.That(task.Rows[0].Context, Does.EndWith("Val passage A\nQuestion: is the sky blue?\nAnswer:"));

        // Same file, same examples: the draw is seeded.
        var again = YamlTask.Load(dir["task.yaml"]);
        Assert.That(again.Rows.Select(r => r.Context), Is.EqualTo(task.Rows.Select(r => r.Context)));
    }

    [Test]
    public void NumFewshotCanBeOverriddenAndZeroMeansTheTextAlone()
    {
        using var dir = new TempDir();
        var task = TaskLoader.Load(WriteBoolq(dir), numFewshot: 0);
        Assert.That(task.Rows[2].Context, Is.EqualTo("Val passage C\nQuestion: is snow cold?\nAnswer:"));
        Assert.That(task.TargetDelimiter, Is.EqualTo(" "));
    }

    [Test]
    public void FewshotFromTheScoredSplitLeavesTheRowOut()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["rows.jsonl"], Enumerable.Range(0, 5).Select(i => $$"""{"q": "question {{i}}", "a": ["x{{i}}", "y{{i}}"], "gold": {{i % 2}}}"""));
        File.WriteAllText(dir["task.yaml"], """
            task: same_split
            dataset_path: rows.jsonl
            test_split: train
            doc_to_text: "Q: {{q}}"
            doc_to_choice: a
            doc_to_target: gold
            target_delimiter: " -> "
            fewshot_delimiter: " | "
            num_fewshot: 4
            """);
        var task = YamlTask.Load(dir["task.yaml"]);
        for (int i = 0; i < 5; i++)
        {
            string context = task.Rows[i].Context;
            Assert.That(context, Does.EndWith($"Q: question {i}"));
            Assert.That(context[..^$"Q: question {i}".Length], Does.Not.Contain($"question {i}"), "the row is not its own example");
            Assert.That(context.Split(" | "), Has.Length.EqualTo(5), "four examples, then the row");
            for (int j = 0; j < 5; j++)
            {
                if (j != i) Assert.That(context, Does.Contain($"Q: question {j} -> {(j % 2 == 0 ? "x" : "y")}{j} | "));
            }
        }
    }

    [Test]
    public void CsvFileWithAListTemplateAndInferredIntegerLabels()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["piqa.csv"], "goal,sol1,sol2,label\n\"Open a jar, quickly\",twist the lid,\"hit it, hard\",0\nDry hair,use a towel,use water,0\n");
        File.WriteAllText(dir["piqa.yaml"], """
            task: tiny_piqa
            dataset_path: csv
            data_files: piqa.csv
            test_split: train
            doc_to_text: "Question: {{goal}}\nAnswer:"
            doc_to_choice: "{{[sol1, sol2]}}"
            doc_to_target: label
            output_type: multiple_choice
            """);
        var task = YamlTask.Load(dir["piqa.yaml"]);
        Assert.That(task.Metrics, Is.EqualTo(new[] { "acc", "acc_norm" }), "lm-eval's defaults for multiple_choice");
        Assert.That(task.Rows[0].Context, Is.EqualTo("Question: Open a jar, quickly\nAnswer:"));
        Assert.That(task.Rows[0].Choices, Is.EqualTo(new[] { "twist the lid", "hit it, hard" }));
        Assert.That(task.Rows[1].Target, Is.EqualTo(0));
        Assert.That(task.Rows[1].Source, Does.EndWith("piqa.csv:3"));
    }

    public sealed class ParquetRow
    {
        public string question { get; set; } = "";

        public List<string> choices { get; set; } = [];

        public int label { get; set; }
    }

    [Test]
    public void ParquetFileWithAListColumnAndATemplatedTarget()
    {
        using var dir = new TempDir();
        var rows = new[]
        {
            new ParquetRow { question = "  Capital of France? ", choices = ["Paris", "Rome"], label = 0 },
            new ParquetRow { question = "2 + 2?", choices = ["3", "4", "5"], label = 1 },
        };
        Directory.CreateDirectory(dir["data"]);
        using (var stream = File.Create(dir["data/test-00000-of-00001.parquet"]))
            ParquetSerializer.SerializeAsync(rows, stream).GetAwaiter().GetResult();
        File.WriteAllText(dir["task.yml"], """
            task: tiny_parquet
            dataset_path: data
            test_split: test
            doc_to_text: "Q: {{question.strip()}}\nA:"
            doc_to_choice: choices
            doc_to_target: "{{label}}"
            target_delimiter: ""
            """);
        var task = YamlTask.Load(dir["task.yml"]);
        Assert.That(task.TargetDelimiter, Is.EqualTo(""));
        Assert.That(task.Rows[0].Context, Is.EqualTo("Q: Capital of France?\nA:"));
        Assert.That(task.Rows[1].Choices, Is.EqualTo(new[] { "3", "4", "5" }));
        Assert.That(task.Rows.Select(r => r.Target), Is.EqualTo(new int?[] { 0, 1 }));
        Assert.That(task.Rows[1].Source, Does.EndWith(".parquet:row 1"));
    }

    [Test]
    public void NestedFieldsAndIndexLikeArc()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["arc.jsonl"],
        [
            """{"question": "Which is a gas?", "choices": {"text": ["rock", "steam", "ice"], "label": ["A", "B", "C"]}, "answerKey": "B"}""",
        ]);
        File.WriteAllText(dir["arc.yaml"], """
            task: tiny_arc
            dataset_path: json
            data_files: {test: arc.jsonl}
            test_split: test
            doc_to_text: "Question: {{question}}\nAnswer:"
            doc_to_choice: "{{choices.text}}"
            doc_to_target: "{{choices.label.index(answerKey)}}"
            """);
        var row = YamlTask.Load(dir["arc.yaml"]).Rows.Single();
        Assert.That(row.Choices, Is.EqualTo(new[] { "rock", "steam", "ice" }));
        Assert.That(row.Target, Is.EqualTo(1));
    }

    [Test]
    public void TargetGivenAsTheChoiceTextIsFound()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["t.jsonl"], ["""{"q": "Sky?", "answer": "blue"}"""]);
        File.WriteAllText(dir["t.yaml"], """
            task: by_text
            dataset_path: t.jsonl
            test_split: train
            doc_to_text: q
            doc_to_choice: ["red", "blue"]
            doc_to_target: answer
            """);
        var row = YamlTask.Load(dir["t.yaml"]).Rows.Single();
        Assert.That(row.Context, Is.EqualTo("Sky?"));
        Assert.That(row.Target, Is.EqualTo(1));
    }

    [TestCase("process_docs: !function utils.process_docs\n", "!function", 8)]
    [TestCase("generation_kwargs:\n  until: [\"\\n\"]\n", "generation_kwargs applies to generate_until tasks", 9)]
    [TestCase("filter_list:\n  - name: x\n", "filter_list applies to generate_until tasks", 9)]
    [TestCase("repeats: 3\n", "repeats: 3 applies to generate_until tasks", 8)]
    [TestCase("weird_option: 3\n", "weird_option", 8)]
    [TestCase("include: base.yaml\n", "include", 8)]
    [TestCase("gen_prefix: 'A:'\n", "gen_prefix", 8)]
    [TestCase("metric_list:\n  - metric: bleu\n", "metric 'bleu' is not supported for a multiple_choice task", 9)]
    public void KeysThatWouldChangeScoresAreRefused(string extra, string named, int line)
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["t.jsonl"], ["""{"q": "Sky?", "label": 0}"""]);
        File.WriteAllText(dir["t.yaml"], "task: t\ndataset_path: t.jsonl\ntest_split: train\ndoc_to_text: q\ndoc_to_choice: [\"a\", \"b\"]\ndoc_to_target: label\noutput_type: multiple_choice\n" + extra);
        var e = Assert.Throws<LlmMergeException>(() => YamlTask.Load(dir["t.yaml"]));
        Assert.That(e!.Message, Does.Contain(named).And.Contain("t.yaml"));
        if (line > 0) Assert.That(e.Message, Does.Contain($"t.yaml:{line}:"));
    }

    [TestCase("doc_to_text: \"{{missing}}\"", "t.jsonl:2", "'missing'")]
    [TestCase("doc_to_text: answer", "t.jsonl:2", "'answer'")]
    [TestCase("doc_to_text: q\ndoc_to_target_override: 1", "t.yaml", "doc_to_target_override")]
    public void MissingFieldsNameTheDataFileAndLine(string textLine, string where, string named)
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["t.jsonl"], ["""{"q": "Sky?", "missing": "here", "answer": "x", "label": 0}""", """{"q": "Sea?", "label": 1}"""]);
        File.WriteAllText(dir["t.yaml"], $"task: t\ndataset_path: t.jsonl\ntest_split: train\n{textLine}\ndoc_to_choice: [\"a\", \"b\"]\ndoc_to_target: label\n");
        var e = Assert.Throws<LlmMergeException>(() => YamlTask.Load(dir["t.yaml"]));
        Assert.That(e!.Message, Does.Contain(where).And.Contain(named));
    }

    [Test]
    public void TargetOutOfRangeAndChoicesThatAreNotAListNameTheRecord()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["t.jsonl"], ["""{"q": "Sky?", "label": 0, "c": "red or blue"}""", """{"q": "Sea?", "label": 5, "c": "x"}"""]);
        File.WriteAllText(dir["t.yaml"], "task: t\ndataset_path: t.jsonl\ntest_split: train\ndoc_to_text: q\ndoc_to_choice: [\"a\", \"b\"]\ndoc_to_target: label\n");
        Assert.That(Assert.Throws<LlmMergeException>(() => YamlTask.Load(dir["t.yaml"]))!.Message,
            Does.Contain("t.jsonl:2").And.Contain("target index 5 is out of range for 2 choices"));

        File.WriteAllText(dir["t.yaml"], "task: t\ndataset_path: t.jsonl\ntest_split: train\ndoc_to_text: q\ndoc_to_choice: \"{{c}}\"\ndoc_to_target: label\n");
        Assert.That(Assert.Throws<LlmMergeException>(() => YamlTask.Load(dir["t.yaml"]))!.Message,
            Does.Contain("t.jsonl:1").And.Contain("not a Python list literal"));
    }

    [Test]
    public void AMissingSplitOrTooFewExamplesAreExplained()
    {
        using var dir = new TempDir();
        string path = WriteBoolq(dir, BoolqYaml.Replace("validation_split: validation", "validation_split: dev"));
        Assert.That(Assert.Throws<LlmMergeException>(() => YamlTask.Load(path))!.Message, Does.Contain("'dev'").And.Contain("train, validation"));

        path = WriteBoolq(dir);
        Assert.That(Assert.Throws<LlmMergeException>(() => YamlTask.Load(path, numFewshot: 5))!.Message, Does.Contain("only 4 example"));
    }
}
