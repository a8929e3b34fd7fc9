using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

/// <summary>Writes three seeded models (base, a, b) and runs recipes against them through the CLI.</summary>
public abstract class MergeTestBase
{
    protected TempDir Dir = null!;

    [SetUp]
    public void MakeModels()
    {
        Dir = new TempDir();
        Fixtures.Model(1).Write(Dir["base"]);
        Fixtures.Model(2).Write(Dir["a"]);
        Fixtures.Model(3).Write(Dir["b"]);
    }

    [TearDown]
    public void Clean() => Dir.Dispose();

    /// <summary>Runs the recipe (paths relative to the temp folder) and returns the output folder.</summary>
    protected string Merge(string yaml, params string[] extra)
    {
        string recipe = Dir["recipe.yml"];
        File.WriteAllText(recipe, yaml);
        string output = Dir["out"];
        var (exit, _, err) = CliRunner.Run(["merge", recipe, output, "--quiet", .. extra]);
        Assert.That(exit, Is.EqualTo(0), err);
        return output;
    }

    protected (int Exit, string Err) MergeFails(string yaml, string? output = null)
    {
        string recipe = Dir["recipe.yml"];
        File.WriteAllText(recipe, yaml);
        var (exit, _, err) = CliRunner.Run("merge", recipe, output ?? Dir["out"], "--quiet");
        Assert.That(exit, Is.Not.EqualTo(0), "the merge should have failed");
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one line on standard error: " + err);
        return (exit, err);
    }

    protected float[] In(string model, string tensor) => ModelReader.Read(Dir[model], tensor);

    protected static void AssertClose(float[] actual, float[] expected, double tol = 1e-5, string? what = null)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < actual.Length; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(tol + tol * Math.Abs(expected[i])), $"{what} [{i}]");
    }
}
