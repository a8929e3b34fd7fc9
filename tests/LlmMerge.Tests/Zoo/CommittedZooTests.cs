using System.Text.Json.Nodes;
using LlmMerge.Eval.Tasks;
using LlmMerge.Tests.Eval;
using LlmMerge.Tests.Support;
using LlmMerge.Zoo;

namespace LlmMerge.Tests.Zoo;

/// <summary>The committed zoo (merges/zoo) and its tasks: the files are the published ones, and every model loads and scores.</summary>
[NonParallelizable]
public class CommittedZooTests
{
    private static string Root => CompetitionData.RepoRoot();

    private static string ZooDir => Path.Combine(Root, "merges", "zoo");

    private static readonly string[] Skills = ["arithmetic", "world_facts", "reversal", "comparison"];

    private static string TestTasks => string.Join(',', Skills.Select(s => Path.Combine(Root, "tasks", s, $"{s}_test.csv")));

    [Test]
    public void FilesMatchTheManifest() => Assert.That(ZooManifest.Verify(ZooDir), Is.Empty);

    [TestCase("base")]
    [TestCase("expert-arithmetic")]
    [TestCase("expert-world_facts")]
    [TestCase("expert-reversal")]
    [TestCase("expert-comparison")]
    [TestCase("multitask")]
    [TestCase("lora-comparison")]
    [TestCase("lora-reversal")]
    public void ModelLoadsAndScoresEveryTestTask(string model)
    {
        using var dir = new TempDir();
        var (exit, _, err) = CliRunner.Run("eval", Path.Combine(ZooDir, model), "--tasks", TestTasks, "--output", dir["r.json"], "--limit", "8", "--quiet");
        Assert.That(exit, Is.EqualTo(0), err);
        var tasks = JsonNode.Parse(File.ReadAllText(dir["r.json"]))!["tasks"]!.AsObject();
        Assert.That(tasks.Select(t => t.Key), Is.EquivalentTo(Skills.Select(s => s + "_test")));
        foreach (var (name, result) in tasks)
        {
            Assert.That(result!["rows"]!.GetValue<int>(), Is.EqualTo(8), name);
            Assert.That(result["metrics"]!["acc"]!.GetValue<double>(), Is.InRange(0.0, 1.0), name);
        }
    }

    [Test]
    public void EachExpertKnowsItsOwnSkill()
    {
        // A guard on the committed weights: the README's table says the experts score at least 90 % on their skill.
        foreach (string skill in Skills)
        {
            using var dir = new TempDir();
            string task = Path.Combine(Root, "tasks", skill, $"{skill}_test.csv");
            var (exit, _, err) = CliRunner.Run("eval", Path.Combine(ZooDir, "expert-" + skill), "--tasks", task, "--output", dir["r.json"], "--limit", "60", "--quiet");
            Assert.That(exit, Is.EqualTo(0), err);
            double acc = JsonNode.Parse(File.ReadAllText(dir["r.json"]))!["tasks"]![$"{skill}_test"]!["metrics"]!["acc"]!.GetValue<double>();
            Assert.That(acc, Is.GreaterThanOrEqualTo(0.9), skill);
        }
    }

    [Test]
    public void CompetitionFilesRunEndToEndOnAZooModelAndWriteAValidSubmission()
    {
        // The real forward pass on the competition's own rows: cosmos_qa (long contexts, cut from the left to the
        // model's 128 positions) and test.csv (multiple choice and generation rows mixed).
        using var dir = new TempDir();
        string folder = CompetitionData.Folder();
        foreach (string file in new[] { "cosmos_qa.csv", "test.csv" })
        {
            string path = Path.Combine(folder, file);
            string submission = dir[file + ".submission.csv"];
            var (exit, _, err) = CliRunner.Run("eval", Path.Combine(ZooDir, "multitask"), "--tasks", path, "--output", dir[file + ".json"],
                "--limit", "12", "--max-gen-len", "8", "--submission", submission, "--quiet");
            Assert.That(exit, Is.EqualTo(0), err);
            var rows = CompetitionCsvTask.Load(path).Rows.Take(12).ToList();
            var (header, written) = CsvFile.Read(submission);
            Assert.That(header.Fields, Is.EqualTo(new[] { "id", "prediction" }), file);
            Assert.That(written.Select(r => r.Fields[0]), Is.EqualTo(rows.Select(r => r.Id)), file);
            foreach (var (row, line) in rows.Zip(written))
            {
                if (row.Kind == RowKind.MultipleChoice)
                    Assert.That(int.Parse(line.Fields[1], System.Globalization.CultureInfo.InvariantCulture), Is.InRange(0, row.Choices.Count - 1), $"{file} row {row.Id}");
            }
            if (file == "test.csv")
                Assert.That(rows.Select(r => r.Kind), Has.Some.EqualTo(RowKind.Generation).And.Some.EqualTo(RowKind.MultipleChoice), "test.csv's first rows mix both kinds");
        }
    }
}
