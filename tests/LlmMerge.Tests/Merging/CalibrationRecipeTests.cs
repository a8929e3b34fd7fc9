using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using LlmMerge.Engine.Calibration;

namespace LlmMerge.Tests.Merging;

/// <summary>The recipe's calibration block and the seeded draw of rows.</summary>
public class CalibrationRecipeTests
{
    private const string Head = "merge_method: regmean\nmodels: [a, b]\n";

    [Test]
    public void OneListForEveryModelWithDefaults()
    {
        var c = MergeRecipeParser.Parse(Head + "calibration:\n  tasks: [x.yaml, y.csv]\n").Calibration!;
        Assert.That(c.Tasks, Is.EqualTo(new[] { "x.yaml", "y.csv" }));
        Assert.That(c.Rows, Is.EqualTo(256));
        Assert.That(c.Seed, Is.EqualTo(0UL));
        Assert.That(c.BatchSize, Is.EqualTo(1));
        Assert.That(c.TasksOf(new ModelReference("b")), Is.EqualTo(c.Tasks));
    }

    [Test]
    public void TasksPerModel()
    {
        var c = MergeRecipeParser.Parse(Head + "calibration:\n  tasks:\n    a: [x.yaml]\n    b: y.csv\n  rows: 32\n  seed: 7\n  batch_size: 4\n").Calibration!;
        Assert.That(c.TasksOf(new ModelReference("a")), Is.EqualTo(new[] { "x.yaml" }));
        Assert.That(c.TasksOf(new ModelReference("b")), Is.EqualTo(new[] { "y.csv" }));
        Assert.That((c.Rows, c.Seed, c.BatchSize), Is.EqualTo((32, 7UL, 4)));
        Assert.That(() => c.TasksOf(new ModelReference("z")), Throws.TypeOf<LlmMergeException>().With.Message.Contains("model 'z'"));
    }

    [TestCase("calibration:\n  rows: 3\n", "calibration needs 'tasks'")]
    [TestCase("calibration:\n  tasks: []\n", "empty list")]
    [TestCase("calibration:\n  tasks: [x.csv]\n  rows: 0\n", "calibration.rows must be a whole number of at least 1")]
    [TestCase("calibration:\n  tasks: [x.csv]\n  row: 3\n", "unknown key 'row' in calibration")]
    public void BadBlocksNameTheKey(string block, string message)
    {
        Assert.That(() => MergeRecipeParser.Parse(Head + block, "r.yml"), Throws.TypeOf<LlmMergeException>().With.Message.Contains(message).And.Message.StartsWith("r.yml:"));
    }

    [Test]
    public void TheDrawIsASeededPermutation()
    {
        var a = CalibrationRows.Shuffle(50, 1);
        Assert.That(a.Order(), Is.EqualTo(Enumerable.Range(0, 50)));
        Assert.That(CalibrationRows.Shuffle(50, 1), Is.EqualTo(a));
        Assert.That(CalibrationRows.Shuffle(50, 2), Is.Not.EqualTo(a));
        Assert.That(a, Is.Not.EqualTo(Enumerable.Range(0, 50)));
    }
}
