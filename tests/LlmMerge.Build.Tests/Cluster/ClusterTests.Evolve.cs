using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests.Cluster;

/// <summary>
/// <c>llmmerge evolve --cluster</c> on the fixture's three workers: a TIES search over two zoo experts, three
/// generations of four and the final mean, each candidate a score-candidate job. The stored candidates (by
/// fingerprint: generation, genotype, scores, fitness), best_config.yaml and the search's outcome must equal a
/// search run on this machine alone, also when a worker is killed with SIGKILL in the middle of a candidate.
/// </summary>
public sealed partial class ClusterTests
{
    private const int SearchFevals = 8;

    /// <summary>The local search every cluster search is compared with, run once.</summary>
    private SearchOutcome? _localSearch;

    private sealed record SearchOutcome(SortedDictionary<string, string> Candidates, string BestConfig, string Summary, string Log);

    private static string NewGenome(GraphFolder folder)
    {
        string zoo = Repo.ZooDir, tasks = Path.Combine(Repo.Root, "tasks");
        return folder.Write("genome.yml", $"""
            genome:
              models:
                - {Path.Combine(zoo, "expert-arithmetic")}
                - {Path.Combine(zoo, "expert-comparison")}
              merge_method: ties
              base_model: {Path.Combine(zoo, "base")}
              layer_granularity: 2
            tasks:
              - name: {Path.Combine(tasks, "arithmetic", "arithmetic_validation.yaml")}
              - name: {Path.Combine(tasks, "comparison", "comparison_validation.yaml")}
                weight: 0.5
            limit: 4
            search:
              popsize: 4
            """);
    }

    private static string[] EvolveArgs(string genome, string storage, params string[] more) =>
        ["evolve", genome, "--storage-path", storage, "--max-fevals", SearchFevals.ToString(CultureInfo.InvariantCulture), "--no-save-final-model", .. more];

    private static SearchOutcome SearchResult(string storage, string log)
    {
        var candidates = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in File.ReadAllLines(Path.Combine(storage, "candidates.jsonl")))
        {
            var o = (JsonObject)JsonNode.Parse(line)!;
            string fp = o["fingerprint"]!.GetValue<string>();
            Assert.That(candidates.ContainsKey(fp), Is.False, $"candidate {fp} stored twice");
            // Everything but the seconds it took.
            candidates[fp] = string.Join(" ", new[] { "generation", "index", "final_mean", "genotype", "parameters", "scores", "fitness" }.Select(k => o[k]?.ToJsonString()));
        }
        var search = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(storage, "search.json")))!;
        string summary = string.Join(" ", new[] { "identity", "evaluations", "generations", "best_fitness", "best_genotype", "per_generation", "stop" }.Select(k => search[k]?.ToJsonString()));
        return new SearchOutcome(candidates, File.ReadAllText(Path.Combine(storage, "best_config.yaml")), summary, log);
    }

    private SearchOutcome LocalSearch()
    {
        if (_localSearch is not null)
            return _localSearch;
        using var folder = new GraphFolder();
        string storage = Path.Combine(folder.Dir, "search");
        using var run = new CliProcess(folder.Dir, EvolveArgs(NewGenome(folder), storage, "--jobs", "1"));
        Assert.That(run.Wait(TimeSpan.FromMinutes(3)), Is.Zero, run.ToString());
        _localSearch = SearchResult(storage, run.StandardError);
        // Three generations of four and the final mean: enough to move the mean and the covariance twice.
        Assert.That(_localSearch.Candidates, Has.Count.EqualTo(13), run.StandardError);
        return _localSearch;
    }

    private static void AssertSameSearch(SearchOutcome cluster, SearchOutcome local)
    {
        Assert.That(cluster.Candidates.Keys, Is.EqualTo(local.Candidates.Keys), "the cluster search asked other candidates than the local one:\n" + cluster.Log);
        foreach (var (fp, value) in local.Candidates)
            Assert.That(cluster.Candidates[fp], Is.EqualTo(value), $"candidate {fp} differs from the local search's");
        Assert.That(cluster.BestConfig, Is.EqualTo(local.BestConfig));
        Assert.That(cluster.Summary, Is.EqualTo(local.Summary));
    }

    /// <summary>Workers that ran a score-candidate job of the search in <paramref name="dir"/>, by job key.</summary>
    private IEnumerable<(WorkerProcess Worker, string Key, string Line)> CandidateJobs(string dir) =>
        _workers.SelectMany(w => w.Lines.Select(l => (w, Match: Regex.Match(l.Line, @"job (\S+): started \(attempt \d+\): evolve candidate [0-9.]+: llmmerge score-candidate (\S+)"))))
            .Where(x => x.Match.Success && x.Match.Groups[2].Value.StartsWith(dir, StringComparison.Ordinal))
            .Select(x => (x.w, x.Match.Groups[1].Value, x.Match.Value));

    [Test]
    public void EvolveOnThreeWorkersEqualsTheLocalSearch()
    {
        var local = LocalSearch();
        using var folder = new GraphFolder();
        string storage = Path.Combine(folder.Dir, "search");
        using var run = new CliProcess(folder.Dir, EvolveArgs(NewGenome(folder), storage, "--cluster", _cluster));
        Assert.That(run.Wait(TimeSpan.FromMinutes(3)), Is.Zero, run + "\n" + string.Join("\n", _workers.Select(w => w.Log)));
        AssertSameSearch(SearchResult(storage, run.StandardError), local);

        // Every candidate ran as one job, on the workers, and the log names each one's worker.
        var jobs = CandidateJobs(folder.Dir).ToList();
        Assert.That(jobs.Select(j => j.Key).Distinct().Count(), Is.EqualTo(13));
        Assert.That(jobs, Has.Count.EqualTo(13), "a candidate ran twice");
        Assert.That(Regex.Count(run.StandardError, @"evolve: candidate \d+\.\d+ scored on worker w\S+"), Is.EqualTo(13), run.StandardError);
        TestContext.Out.WriteLine($"candidates per worker: {string.Join(", ", jobs.GroupBy(j => j.Worker.Name).Select(g => $"{g.Key} {g.Count()}"))}");

        // A rerun finds every candidate stored and sends nothing.
        using var again = new CliProcess(folder.Dir, EvolveArgs(Path.Combine(folder.Dir, "genome.yml"), storage, "--cluster", _cluster));
        Assert.That(again.Wait(TimeSpan.FromMinutes(2)), Is.Zero, again.ToString());
        Assert.That(again.StandardError, Does.Contain("0 scored now, 13 from candidates.jsonl"));
        Assert.That(CandidateJobs(folder.Dir).Count(), Is.EqualTo(13));
    }

    [Test]
    public void EvolveWithAWorkerKilledMidCandidateEqualsTheLocalSearch()
    {
        var local = LocalSearch();
        using var folder = new GraphFolder();
        string storage = Path.Combine(folder.Dir, "search");
        using var run = new CliProcess(folder.Dir, EvolveArgs(NewGenome(folder), storage, "--cluster", _cluster));

        // The first worker to start a candidate of the second generation is killed with it running.
        (WorkerProcess Worker, string Key, string Line) victim = default;
        var until = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (victim.Worker is null)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(until), "no worker started a candidate of generation 2:\n" + run.StandardError);
            Assert.That(run.HasExited, Is.False, "the search ended before generation 2:\n" + run);
            victim = CandidateJobs(folder.Dir).FirstOrDefault(j => j.Line.Contains("evolve candidate 2.", StringComparison.Ordinal));
            Thread.Sleep(20);
        }
        Thread.Sleep(300); // its score-candidate process is running by now
        var orphans = victim.Worker.Children();
        victim.Worker.KillHard();
        var killedAt = DateTime.UtcNow;
        _workers.Remove(victim.Worker);
        TestContext.Out.WriteLine($"killed {victim.Worker.Name} running candidate job {victim.Key}; its job processes: {string.Join(", ", orphans)}");

        Assert.That(run.Wait(TimeSpan.FromMinutes(3)), Is.Zero, run + "\n" + victim.Worker.Log + "\n" + string.Join("\n", _workers.Select(w => w.Log)));
        AssertSameSearch(SearchResult(storage, run.StandardError), local);

        // The killed candidate ran again once, on a survivor (its next attempt, or attempt 1 of a new activation when
        // its grain lived on the killed worker); no other candidate ran twice.
        var rerun = _workers.Select(w => w.FirstLine(l => l.Contains($"job {victim.Key}: started (attempt ", StringComparison.Ordinal))).OfType<DateTime>().ToList();
        Assert.That(rerun, Has.Count.EqualTo(1), string.Join("\n", _workers.Select(w => w.Log)));
        TestContext.Out.WriteLine($"the killed candidate started again {(rerun[0] - killedAt).TotalSeconds:F1} s after the kill");
        var survivors = CandidateJobs(folder.Dir).Where(j => j.Worker != victim.Worker).ToList();
        Assert.That(survivors.Select(j => j.Key).Distinct().Count(), Is.EqualTo(survivors.Count), "a candidate ran twice on the survivors");
        Assert.That(run.StandardError, Does.Contain("is gone"), "the search did not say its candidate's worker was lost");
        Assert.That(orphans.Where(pid => Directory.Exists($"/proc/{pid}")), Is.Empty, "a job process outlived its killed worker");
        victim.Worker.Dispose();
        var replacement = new WorkerProcess(_cluster, victim.Worker.Name + "b");
        _workers.Add(replacement);
        replacement.WaitJoined(JoinWithin);
    }

    [Test]
    public void AnEvolveStepSpreadsItsCandidatesOverTheWorkers()
    {
        using var folder = new GraphFolder();
        folder.Write("genome.yml", """
            genome:
              models: [expert-a, expert-b]
              merge_method: ties
              base_model: base
              layer_granularity: 2
            tasks:
              - name: tasks/sums.csv
            """);
        NewGraph(folder);
        string project = folder.Project("search", """
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="expert-a" Path="models/expert-a" />
                <Expert Include="expert-b" Path="models/expert-b" />
                <EvolveStep Include="search" Genome="genome.yml" MaxFevals="2" Seed="3" Popsize="2" />
              </ItemGroup>
            """);
        BuildResult build = folder.Build(project, $"-p:LlmMergeCluster={_cluster}");
        Assert.That(build.ExitCode, Is.Zero, build + "\n" + string.Join("\n", _workers.Select(w => w.Log)));
        // The step ran here as `llmmerge evolve --cluster`: every candidate it stored was a job on the workers.
        string storage = folder.Artifacts(project, "search");
        int stored = File.ReadAllLines(Path.Combine(storage, "candidates.jsonl")).Length;
        var search = JsonNode.Parse(File.ReadAllText(Path.Combine(storage, "search.json")))!;
        Assert.That(stored, Is.GreaterThanOrEqualTo(3));
        Assert.That((int)search["scored_this_run"]!, Is.EqualTo(stored));
        Assert.That(File.Exists(Path.Combine(storage, "final_model", "model.safetensors")), Is.True);
        Assert.That(CandidateJobs(folder.Dir).Count(), Is.EqualTo(stored), string.Join("\n", _workers.Select(w => w.Log)));
    }
}
