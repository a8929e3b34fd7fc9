using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmMerge.Tests.Eval;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Search;

/// <summary>
/// <c>llmmerge evolve</c> end to end on three of the zoo's models and a few validation rows: the outputs, the best
/// recipe merging to the same bytes through <c>llmmerge merge</c>, scores equal to <c>llmmerge eval</c> of that model,
/// resuming (a rerun, a larger budget, a really killed process) without rescoring, and bad input.
/// </summary>
[NonParallelizable]
public class EvolveCommandTests
{
    private static string Root => CompetitionData.RepoRoot();

    private static string Zoo(string model) => Path.Combine(Root, "merges", "zoo", model);

    private static readonly string[] TaskFiles =
    [
        Path.Combine(Root, "tasks", "arithmetic", "arithmetic_validation.yaml"),
        Path.Combine(Root, "tasks", "comparison", "comparison_validation.yaml"),
    ];

    private static string Genome(TempDir dir, string extra = "", string method = "ties", int granularity = 2)
    {
        string text = $"""
            genome:
              models:
                - {Zoo("expert-arithmetic")}
                - {Zoo("expert-comparison")}
              merge_method: {method}
              base_model: {Zoo("base")}
              layer_granularity: {granularity}
            {extra}tasks:
              - name: {TaskFiles[0]}
              - name: {TaskFiles[1]}
                weight: 0.5
            limit: 4
            search:
              popsize: 4
            """;
        File.WriteAllText(dir["genome.yml"], text);
        return dir["genome.yml"];
    }

    private static (int Exit, string Out, string Err) Evolve(string genome, string storage, int maxFevals, params string[] more) =>
        CliRunner.Run(["evolve", genome, "--storage-path", storage, "--max-fevals", maxFevals.ToString(System.Globalization.CultureInfo.InvariantCulture), "--jobs", "2", .. more]);

    private static List<JsonObject> Candidates(string storage) =>
        File.ReadAllLines(Path.Combine(storage, "candidates.jsonl")).Select(l => (JsonObject)JsonNode.Parse(l)!).ToList();

    private static JsonObject Search(string storage) => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(storage, "search.json")))!;

    [Test]
    public void ASearchWritesItsOutputsAndItsBestRecipeMergesAndScoresTheSame()
    {
        using var dir = new TempDir();
        var (exit, stdout, stderr) = Evolve(Genome(dir), dir["run"], 8);
        Assert.That(exit, Is.Zero, stderr);
        Assert.That(stderr, Does.Contain("evolve: generation 1:").And.Contain("candidates/min"), "progress on standard error");

        // popsize 4: generations of 4 until countevals - 1 >= 8 (12), then the final mean.
        var candidates = Candidates(dir["run"]);
        Assert.That(candidates, Has.Count.EqualTo(13));
        Assert.That(candidates.Select(c => (string)c["fingerprint"]!).Distinct().Count(), Is.EqualTo(13));
        Assert.That(candidates.Count(c => (bool)c["final_mean"]!), Is.EqualTo(1));
        foreach (var c in candidates)
        {
            var scores = (JsonObject)c["scores"]!;
            double fitness = (double)scores[TaskFiles[0]]!["acc"]! + 0.5 * (double)scores[TaskFiles[1]]!["acc"]!;
            Assert.That((double)c["fitness"]!, Is.EqualTo(fitness).Within(1e-12), "fitness = sum of weight x acc");
            Assert.That(((JsonArray)c["genotype"]!).Count, Is.EqualTo(2 * 2 * 2), "2 layer groups x 2 models x (weight, density)");
            Assert.That((double)c["seconds"]!, Is.GreaterThan(0));
        }
        Assert.That(File.ReadAllText(dir["run/convergence.svg"]), Does.StartWith("<svg"));
        var search = Search(dir["run"]);
        Assert.That((int)search["evaluations"]!, Is.EqualTo(13));
        Assert.That(search["stop"]!.AsArray().Select(s => (string)s!), Does.Contain("maxfevals"));

        // best_config.yaml is a recipe llmmerge merge turns into the same bytes as final_model.
        var best = candidates.MaxBy(c => (double)c["fitness"]!)!;
        Assert.That((double)search["best_fitness"]!, Is.EqualTo((double)best["fitness"]!));
        var (mexit, _, merr) = CliRunner.Run("merge", dir["run/best_config.yaml"], dir["again/final_model"], "--quiet");
        Assert.That(mexit, Is.Zero, merr);
        var files = Directory.GetFiles(dir["run/final_model"]).Select(f => Path.GetFileName(f)).Order().ToList();
        Assert.That(Directory.GetFiles(dir["again/final_model"]).Select(Path.GetFileName).Order(), Is.EqualTo(files));
        foreach (string? f in files)
            Assert.That(File.ReadAllBytes(dir[$"again/final_model/{f}"]), Is.EqualTo(File.ReadAllBytes(dir[$"run/final_model/{f}"])), f);

        // The in-memory scores are what llmmerge eval gives the merged folder.
        var (eexit, _, eerr) = CliRunner.Run("eval", dir["run/final_model"], "--tasks", string.Join(",", TaskFiles), "--limit", "4", "--output", dir["results.json"], "--quiet");
        Assert.That(eexit, Is.Zero, eerr);
        var results = JsonNode.Parse(File.ReadAllText(dir["results.json"]))!["tasks"]!;
        Assert.That((double)results["arithmetic_validation"]!["metrics"]!["acc"]!, Is.EqualTo((double)best["scores"]![TaskFiles[0]]!["acc"]!));
        Assert.That((double)results["comparison_validation"]!["metrics"]!["acc"]!, Is.EqualTo((double)best["scores"]![TaskFiles[1]]!["acc"]!));
    }

    [Test]
    public void ARerunScoresNothingAndALargerBudgetScoresOnlyTheNewCandidates()
    {
        using var dir = new TempDir();
        string genome = Genome(dir);
        Assert.That(Evolve(genome, dir["run"], 8, "--no-save-final-model").Exit, Is.Zero);
        string bestBefore = File.ReadAllText(dir["run/best_config.yaml"]);

        var (exit, _, err) = Evolve(genome, dir["run"], 8, "--no-save-final-model");
        Assert.That(exit, Is.Zero, err);
        Assert.That((int)Search(dir["run"])["scored_this_run"]!, Is.Zero);
        Assert.That((int)Search(dir["run"])["stored_this_run"]!, Is.EqualTo(13));
        Assert.That(File.ReadAllText(dir["run/best_config.yaml"]), Is.EqualTo(bestBefore), "the same trajectory, replayed");

        // 16: five generations (20), then the final mean; the first three generations are the stored ones, the
        // earlier final mean is not on the new path.
        (exit, _, err) = Evolve(genome, dir["run"], 16, "--no-save-final-model");
        Assert.That(exit, Is.Zero, err);
        var search = Search(dir["run"]);
        Assert.That((int)search["evaluations"]!, Is.EqualTo(21));
        Assert.That((int)search["stored_this_run"]!, Is.EqualTo(12));
        Assert.That((int)search["scored_this_run"]!, Is.EqualTo(9));
        var candidates = Candidates(dir["run"]);
        Assert.That(candidates, Has.Count.EqualTo(22));
        Assert.That(candidates.Select(c => (string)c["fingerprint"]!).Distinct().Count(), Is.EqualTo(22), "no candidate scored twice");
    }

    [Test]
    public void AKilledSearchResumesWithoutRescoringWhatItScored()
    {
        using var dir = new TempDir();
        string genome = Genome(dir);
        string cli = Path.Combine(AppContext.BaseDirectory, "llmmerge.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { cli, "evolve", genome, "--storage-path", dir["run"], "--max-fevals", "16", "--jobs", "1", "--no-save-final-model", "--quiet" },
            WorkingDirectory = Root,
        };
        using (var process = Process.Start(start)!)
        {
            var clock = Stopwatch.StartNew();
            string file = dir["run/candidates.jsonl"];
            // Six candidates scored (of 21), then a real kill: no chance to clean up.
            while (!process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(10)
                   && (!File.Exists(file) || File.ReadAllLines(file).Length < 6))
                Thread.Sleep(50);
            Assert.That(process.HasExited, Is.False, "the search ended before it could be killed");
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        int scoredBefore = Candidates(dir["run"]).Count;
        Assert.That(scoredBefore, Is.InRange(6, 20), "killed part way");

        var (exit, _, err) = Evolve(genome, dir["run"], 16, "--no-save-final-model");
        Assert.That(exit, Is.Zero, err);
        var search = Search(dir["run"]);
        Assert.That((int)search["stored_this_run"]!, Is.EqualTo(scoredBefore), "every candidate the killed run scored is reused");
        Assert.That((int)search["scored_this_run"]!, Is.EqualTo(21 - scoredBefore));
        Assert.That(Candidates(dir["run"]).Select(c => (string)c["fingerprint"]!).Distinct().Count(), Is.EqualTo(21));
    }

    [Test]
    public void AWorkersScoreCandidateJobScoresAsTheSearchDidAndRefusesAnotherFingerprint()
    {
        // What a cluster worker runs for `evolve --cluster`: the stored candidates' genotypes scored again, one process
        // each, give the scores the search stored.
        using var dir = new TempDir();
        string genome = Genome(dir);
        Assert.That(Evolve(genome, dir["run"], 4, "--no-save-final-model").Exit, Is.Zero);
        foreach (var c in Candidates(dir["run"]).Take(2))
        {
            string genotype = string.Join(",", ((JsonArray)c["genotype"]!).Select(v => ((double)v!).ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
            var (exit, stdout, err) = CliRunner.Run(["score-candidate", genome, "--genotype", genotype, "--fingerprint", (string)c["fingerprint"]!]);
            Assert.That(exit, Is.Zero, err);
            var answer = (JsonObject)JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
            Assert.That((string)answer["fingerprint"]!, Is.EqualTo((string)c["fingerprint"]!));
            Assert.That(answer["scores"]!.ToJsonString(), Is.EqualTo(c["scores"]!.ToJsonString()));
        }

        // A machine whose models, tasks or build differ computes another fingerprint and scores nothing.
        var first = Candidates(dir["run"])[0];
        string g0 = string.Join(",", ((JsonArray)first["genotype"]!).Select(v => ((double)v!).ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
        var (code, _, error) = CliRunner.Run(["score-candidate", genome, "--genotype", g0, "--fingerprint", new string('0', 64)]);
        Assert.That(code, Is.Not.Zero);
        Assert.That(error.Trim().Split('\n'), Has.Length.EqualTo(1), error);
        Assert.That(error, Does.Contain("fingerprint").And.Contain("genome.yml"));
        (code, _, error) = CliRunner.Run(["score-candidate", genome, "--genotype", "0.5,x", "--fingerprint", "f"]);
        Assert.That(code, Is.Not.Zero);
        Assert.That(error, Does.Contain("--genotype").And.Contain("'x'"));
    }

    [Test]
    public void AStoragePathOfAnotherGenomeIsRefusedAndKeepsItsCandidates()
    {
        using var dir = new TempDir();
        Assert.That(Evolve(Genome(dir), dir["run"], 1, "--no-save-final-model").Exit, Is.Zero);
        byte[] before = File.ReadAllBytes(dir["run/candidates.jsonl"]);
        var (exit, _, err) = Evolve(Genome(dir, method: "dare_ties"), dir["run"], 1);
        Assert.That(exit, Is.Not.Zero);
        Assert.That(err.Trim(), Does.Contain("holds the candidates of another genome").And.Contain(dir["run"]));
        Assert.That(err.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(File.ReadAllBytes(dir["run/candidates.jsonl"]), Is.EqualTo(before));
    }

    [Test]
    public void BadInputIsOneLineNamingWhatToFix()
    {
        using var dir = new TempDir();
        var (exit, _, err) = Evolve(Genome(dir, granularity: 3), dir["a"], 4);
        Assert.That(exit, Is.Not.Zero);
        Assert.That(err, Does.StartWith("llmmerge: error: " + dir["genome.yml"] + ": ").And.Contain("layer_granularity 3 does not divide the models' 4 layers"));

        File.WriteAllText(dir["missing.yml"], File.ReadAllText(Genome(dir)).Replace(TaskFiles[1], "no_such_task"));
        (exit, _, err) = Evolve(dir["missing.yml"], dir["b"], 4, "--task-search-path", Path.Combine(Root, "tasks"));
        Assert.That(exit, Is.Not.Zero);
        Assert.That(err, Does.Contain("task 'no_such_task' not found").And.Contain(Path.Combine(Root, "tasks")).And.Contain(dir["no_such_task"]));

        // A model whose config says 3 layers where the others have 4.
        GraphCopy(Zoo("expert-comparison"), dir["short"]);
        string config = File.ReadAllText(dir["short/config.json"]).Replace("\"num_hidden_layers\": 4", "\"num_hidden_layers\": 3");
        File.WriteAllText(dir["short/config.json"], config);
        File.WriteAllText(dir["shape.yml"], File.ReadAllText(Genome(dir)).Replace(Zoo("expert-comparison"), dir["short"]));
        (exit, _, err) = Evolve(dir["shape.yml"], dir["c"], 4);
        Assert.That(exit, Is.Not.Zero);
        Assert.That(err, Does.StartWith("llmmerge: error: " + dir["shape.yml"] + ": ").And.Contain("a genome merges models of one shape").And.Contain(dir["short"]));

        File.WriteAllText(dir["karcher.yml"], File.ReadAllText(Genome(dir)).Replace("merge_method: ties", "merge_method: karcher"));
        (exit, _, err) = Evolve(dir["karcher.yml"], dir["d"], 4);
        Assert.That(exit, Is.Not.Zero);
        Assert.That(err, Does.Contain("karcher").And.Contain("has no parameters a genome can tune"));
        foreach (string d in new[] { "a", "b", "c", "d" })
            Assert.That(Directory.Exists(dir[d]) && Directory.EnumerateFileSystemEntries(dir[d]).Any(), Is.False, $"nothing written for bad input ({d})");
    }

    /// <summary>Only the genome's tasks are read: a search whose task folder holds nothing but the validation files runs.</summary>
    [Test]
    public void OnlyTheGenomesTasksAreRead()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["tasks"]);
        foreach (string f in new[] { "arithmetic_validation.yaml", "validation.jsonl" })
            File.Copy(Path.Combine(Root, "tasks", "arithmetic", f), dir[$"tasks/{f}"]);
        File.WriteAllText(dir["g.yml"], File.ReadAllText(Genome(dir))
            .Replace($"  - name: {TaskFiles[0]}\n", "  - name: arithmetic_validation\n").Replace($"  - name: {TaskFiles[1]}\n    weight: 0.5\n", ""));
        var (exit, _, err) = Evolve(dir["g.yml"], dir["run"], 1, "--task-search-path", dir["tasks"], "--no-save-final-model");
        Assert.That(exit, Is.Zero, err);
        var scores = (JsonObject)Candidates(dir["run"])[0]["scores"]!;
        Assert.That(scores.Select(kv => kv.Key), Is.EqualTo(new[] { "arithmetic_validation" }));
    }

    private static void GraphCopy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }
}
