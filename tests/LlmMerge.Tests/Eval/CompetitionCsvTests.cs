using LlmMerge.Core;
using LlmMerge.Eval.Tasks;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Eval;

public class CompetitionCsvTests
{
    private const string Header = "id,input,target,answer_choices,eval_type\n";

    private static EvalTask Load(TempDir dir, string text, string name = "task.csv")
    {
        File.WriteAllText(dir[name], text);
        return CompetitionCsvTask.Load(dir[name]);
    }

    [Test]
    public void ReadsQuotedMultilineFieldsAndPythonListChoices()
    {
        using var dir = new TempDir();
        var task = Load(dir, Header
            + "7,\"Line one, with comma\nLine \"\"two\"\"\",1,\"['A', \"\"it's\"\"]\",multiple_choice\r\n"
            + "8,\"Summarize:\",A reference,None,generation\n"
            + "\n"
            + "9,plain,,\"['x', 'y', 'z']\",multiple_choice\n");

        Assert.That(task.Name, Is.EqualTo("task"));
        Assert.That(task.Rows, Has.Count.EqualTo(3));
        var mc = task.Rows[0];
        Assert.That(mc.Id, Is.EqualTo("7"));
        Assert.That(mc.Context, Is.EqualTo("Line one, with comma\nLine \"two\""));
        Assert.That(mc.Choices, Is.EqualTo(new[] { "A", "it's" }));
        Assert.That(mc.Target, Is.EqualTo(1));
        Assert.That(mc.Kind, Is.EqualTo(RowKind.MultipleChoice));
        Assert.That(mc.Source, Does.EndWith("task.csv:2"));

        var gen = task.Rows[1];
        Assert.That(gen.Kind, Is.EqualTo(RowKind.Generation));
        Assert.That(gen.Choices, Is.Empty);
        Assert.That(gen.Target, Is.Null);
        Assert.That(gen.TargetText, Is.EqualTo("A reference"));
        Assert.That(gen.Source, Does.EndWith("task.csv:4"), "the record after a two-line record starts on line 4");

        Assert.That(task.Rows[2].Target, Is.Null, "an empty target is an unlabeled row");
        Assert.That(task.Rows[2].Source, Does.EndWith("task.csv:6"), "blank lines count");
    }

    [Test]
    public void ColumnsMayComeInAnyOrderAndTargetIsOptional()
    {
        using var dir = new TempDir();
        var task = Load(dir, "id,input,eval_type,answer_choices\n0,\"Q?\",multiple_choice,\"['a', 'b']\"\n1,Write,generation,\n");
        Assert.That(task.Rows[0].Choices, Is.EqualTo(new[] { "a", "b" }));
        Assert.That(task.Rows[0].Target, Is.Null);
        Assert.That(task.Rows[1].Kind, Is.EqualTo(RowKind.Generation));
    }

    [Test]
    public void ChoicesThatDoNotParseNameFileAndLine()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<LlmMergeException>(() => Load(dir, Header
            + "0,\"two\nlines\",0,\"['a', 'b']\",multiple_choice\n"
            + "1,q,0,\"['a', 'b'\",multiple_choice\n"));
        Assert.That(e!.Message, Does.Contain("task.csv:4").And.Contain("answer_choices").And.Contain("id 1"));
    }

    [Test]
    public void TargetOutOfRangeIsRefused()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<LlmMergeException>(() => Load(dir, Header + "0,q,2,\"['a', 'b']\",multiple_choice\n"));
        Assert.That(e!.Message, Does.Contain("task.csv:2").And.Contain("target 2 is out of range"));
    }

    [Test]
    public void MissingColumnsAreNamed()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<LlmMergeException>(() => Load(dir, "id,input,target\n0,q,1\n"));
        Assert.That(e!.Message, Does.Contain("task.csv:1").And.Contain("answer_choices, eval_type"));
    }

    [Test]
    public void UnclosedQuoteNamesTheLineItOpensOn()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<LlmMergeException>(() => Load(dir, Header + "0,q,0,\"['a']\",multiple_choice\n1,\"never closed,0,x,y\n"));
        Assert.That(e!.Message, Does.Contain("task.csv:3").And.Contain("never closed"));
    }

    [Test]
    public void UnknownEvalTypeAndShortRowsAreRefused()
    {
        using var dir = new TempDir();
        Assert.That(Assert.Throws<LlmMergeException>(() => Load(dir, Header + "0,q,0,\"['a']\",ranking\n"))!.Message, Does.Contain("ranking"));
        Assert.That(Assert.Throws<LlmMergeException>(() => Load(dir, Header + "0,q,0\n"))!.Message, Does.Contain("task.csv:2").And.Contain("3 fields"));
    }

    [Test]
    public void ReadsTheCompetitionFilesAsPublished()
    {
        string folder = CompetitionData.Folder();
        var cosmos = CompetitionCsvTask.Load(Path.Combine(folder, "cosmos_qa.csv"));
        Assert.That(cosmos.Rows, Has.Count.EqualTo(500));
        Assert.That(cosmos.Rows.All(r => r.Kind == RowKind.MultipleChoice && r.Target is int t && t < r.Choices.Count));
        Assert.That(cosmos.Rows[1].Choices[0], Is.EqualTo("He was married before and she might come back one day ."));

        var xsum = CompetitionCsvTask.Load(Path.Combine(folder, "xsum.csv"));
        Assert.That(xsum.Rows, Has.Count.EqualTo(200));
        Assert.That(xsum.Rows.All(r => r.Kind == RowKind.Generation && r.TargetText is { Length: > 0 }));

        var test = CompetitionCsvTask.Load(Path.Combine(folder, "test.csv"));
        Assert.That(test.Rows, Has.Count.EqualTo(807));
        Assert.That(test.Rows.All(r => r.Target is null));
        Assert.That(test.Rows.Count(r => r.Kind == RowKind.MultipleChoice), Is.GreaterThan(0));
        Assert.That(test.Rows.Count(r => r.Kind == RowKind.Generation), Is.GreaterThan(0));
    }
}
