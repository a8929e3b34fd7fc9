using LlmMerge.Eval.Routing;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Routing;

/// <summary>Task routing: each task to the expert with the best validation accuracy (the first listed among equals), and its rows scored as that expert scores them.</summary>
public class TaskRoutingTests
{
    [Test]
    public void EachTaskGoesToTheBestValidationExpertAndScoresAsIt()
    {
        using var f = new RoutingFixture(2, "one", "two", "three");
        // Validation: tasks/alpha.csv decides task "alpha_test", tasks/beta.csv decides "beta_test".
        string alphaTest = f.WriteTask("alpha_test", RoutingFixture.AlphaQuestions.Reverse().ToList());
        string betaTest = f.WriteTask("beta_test", RoutingFixture.BetaQuestions.Reverse().ToList());
        string config = f.WriteConfig("router.yml", """
            base_model: models/base
            routing: task
            experts:
              - source_model: models/one
              - source_model: models/two
              - source_model: models/three
            validation:
              alpha_test: tasks/alpha.csv
              beta_test: tasks/beta.csv
            """);
        var manifest = new RouterBuilder().Build(RouteConfig.ParseFile(config), f["router"]);

        string[] experts = ["one", "two", "three"];
        var validation = experts.ToDictionary(e => e, e => RoutedEvaluation.Run(f.ModelDir(e), f[$"val/{e}"], f["tasks/alpha.csv"], f["tasks/beta.csv"]).Results);
        string Best(string task)
        {
            string best = experts[0];
            foreach (string e in experts.Skip(1))
                if (validation[e].Task(task)!.Accuracy > validation[best].Task(task)!.Accuracy) best = e;
            return best;
        }
        var expected = new Dictionary<string, string> { ["alpha_test"] = Best("alpha"), ["beta_test"] = Best("beta") };
        Assert.That(manifest.Tasks.ToDictionary(t => t.Task, t => t.Expert), Is.EquivalentTo(expected));
        Assert.That(manifest.Tasks[0].Scores["two"], Is.EqualTo(validation["two"].Task("alpha")!.Accuracy));
        Assert.That(File.Exists(f["router/validation/one.json"]), "each expert's validation results are kept with the router");

        var (results, routed) = RoutedEvaluation.Run(f["router"], f["out/router"], alphaTest, betaTest);
        foreach (var (task, expert) in expected)
        {
            var own = RoutedEvaluation.Run(f.ModelDir(expert), f[$"out/{expert}-{task}"], task == "alpha_test" ? alphaTest : betaTest).Samples;
            var mine = routed.Where(s => s.Task == task).ToList();
            Assert.That(mine.Select(s => s.Expert), Has.All.EqualTo(expert));
            Assert.That(mine.Select(s => s.LogLikelihoods), Is.EqualTo(own.Select(s => s.LogLikelihoods)), $"{task} scores as {expert} alone");
            Assert.That(results.Task(task)!.RoutedRows![expert], Is.EqualTo(6));
            Assert.That(results.Task(task)!.RoutedRows!.Values.Sum(), Is.EqualTo(6));
        }
    }

    [TestCase("first", "copy")]
    [TestCase("copy", "first")]
    public void EqualValidationScoresGoToTheFirstListed(string listedFirst, string listedSecond)
    {
        using var f = new RoutingFixture(2, "first");
        f.AddModel("copy", seed: 2); // the same seed as "first": the same weights, so the same scores
        string config = f.WriteConfig("router.yml", $"""
            base_model: models/base
            routing: task
            experts:
              - source_model: models/{listedFirst}
              - source_model: models/{listedSecond}
            validation:
              alpha: tasks/alpha.csv
            """);
        var manifest = new RouterBuilder().Build(RouteConfig.ParseFile(config), f["router"]);
        Assert.That(manifest.Tasks.Single().Scores[listedFirst], Is.EqualTo(manifest.Tasks.Single().Scores[listedSecond]));
        Assert.That(manifest.Tasks.Single().Expert, Is.EqualTo(listedFirst));
    }

    [Test]
    public void ATaskMissingFromTheValidationMapIsAnErrorNamingIt()
    {
        using var f = new RoutingFixture(2);
        string config = f.WriteConfig("router.yml", """
            base_model: models/base
            routing: task
            experts:
              - source_model: models/alpha
              - source_model: models/beta
            validation:
              alpha: tasks/alpha.csv
            """);
        var (exit, _, err) = CliRunner.Run("route", config, f["router"], "--quiet");
        Assert.That(exit, Is.EqualTo(0), err);
        (exit, _, err) = CliRunner.Run("eval", f["router"], "--tasks", $"{f["tasks/alpha.csv"]},{f["tasks/beta.csv"]}", "--output", f["out/RESULTS.json"], "--quiet");
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(err.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(err, Does.Contain("task 'beta'").And.Contain("validation map"));
        Assert.That(Directory.Exists(f["out"]) && Directory.EnumerateFileSystemEntries(f["out"]).Any(), Is.False, "nothing written");
    }
}
