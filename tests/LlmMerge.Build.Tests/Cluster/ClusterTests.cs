using System.Text.Json;
using System.Text.RegularExpressions;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests.Cluster;

/// <summary>
/// The cluster end to end with real processes on loopback: a private redis-server, three `llmmerge worker`s on its
/// membership, graphs built with -p:LlmMergeCluster and `llmmerge submit` clients. Results must equal a build on
/// this machine alone; a worker killed with SIGKILL mid-job loses nothing.
/// </summary>
[TestFixture, NonParallelizable]
public sealed partial class ClusterTests
{
    private static readonly TimeSpan JoinWithin = TimeSpan.FromSeconds(90);

    private RedisServer _redis = null!;
    private readonly List<WorkerProcess> _workers = [];
    private string _cluster = "";

    /// <summary>The local build every cluster build is compared with (eval cache and merged models), made once.</summary>
    private Dictionary<string, string>? _local;

    [OneTimeSetUp]
    public void StartCluster()
    {
        _redis = new RedisServer();
        _cluster = _redis.Cluster(1);
        for (int i = 1; i <= 3; i++)
            _workers.Add(new WorkerProcess(_cluster, $"w{i}"));
        foreach (var w in _workers)
            w.WaitJoined(JoinWithin);
    }

    [OneTimeTearDown]
    public void StopCluster()
    {
        foreach (var w in _workers)
        {
            TestContext.Out.WriteLine(w.Log);
            w.Dispose();
        }
        _redis?.Dispose();
    }

    private const string Graph = """
          <ItemGroup>
            <Expert Include="base" Path="models/base" />
            <Expert Include="expert-a" Path="models/expert-a" />
            <Expert Include="expert-b" Path="models/expert-b" />
            <MergeStep Include="ties" Method="ties" BaseModel="base" Models="expert-a;expert-b" Density="0.5" Weight="0.5" />
            <MergeStep Include="average" Method="linear" Models="expert-a;expert-b" Weight="0.5" />
            <MergeStep Include="blend" Method="task_arithmetic" BaseModel="base" Models="ties;average" Weight="0.5" />
            <Evaluation Include="held-out" Models="expert-a;ties;average;blend" Tasks="tasks/sums.csv" />
          </ItemGroup>
        """;

    private static string NewGraph(GraphFolder folder)
    {
        var rows = new System.Text.StringBuilder("id,input,target,answer_choices,eval_type\n");
        for (int i = 0; i < 6; i++)
            rows.Append($"{i},What is {10 + i} plus {20 + 2 * i}?,1,\"['{29 + 3 * i}', '{30 + 3 * i}', '{40 + 3 * i}']\",multiple_choice\n");
        folder.Write("tasks/sums.csv", rows.ToString());
        return folder.Project("graph", Graph);
    }

    /// <summary>What a build computed: each cached score (metrics only) and samples file, each merged model's weights, by name.</summary>
    private static Dictionary<string, string> Outcome(GraphFolder folder, string project)
    {
        var outcome = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string f in Directory.GetFiles(folder.Artifacts(project, "eval-cache")).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(f);
            if (name.EndsWith(".samples.jsonl", StringComparison.Ordinal))
                outcome[name] = File.ReadAllText(f);
            else if (name.EndsWith(".json", StringComparison.Ordinal))
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(f));
                outcome[name] = string.Join(";", doc.RootElement.GetProperty("tasks").EnumerateObject().Select(t => $"{t.Name}={t.Value.GetProperty("metrics").GetRawText()}"));
            }
        }
        foreach (string step in new[] { "ties", "average", "blend" })
        {
            string model = folder.Artifacts(project, step, "model.safetensors");
            Assert.That(File.Exists(model), Is.True, $"{model} missing");
            outcome[step] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(model)));
        }
        return outcome;
    }

    private Dictionary<string, string> Local()
    {
        if (_local is not null)
            return _local;
        using var folder = new GraphFolder();
        string project = NewGraph(folder);
        BuildResult local = folder.Build(project);
        Assert.That(local.ExitCode, Is.Zero, local.ToString());
        TestContext.Out.WriteLine($"local build: {local.Elapsed.TotalSeconds:F1} s");
        return _local = Outcome(folder, project);
    }

    private static void AssertSame(Dictionary<string, string> cluster, Dictionary<string, string> local)
    {
        Assert.That(cluster.Keys, Is.EquivalentTo(local.Keys), "the cluster build cached other (model, task) pairs than the local one");
        Assert.That(local.Count(k => k.Key.EndsWith(".json", StringComparison.Ordinal)), Is.EqualTo(4));
        foreach (var (name, value) in local)
            Assert.That(cluster[name], Is.EqualTo(value), $"{name} differs from the local build's");
    }

    [Test]
    public void GraphOnThreeWorkersEqualsTheLocalBuild()
    {
        var local = Local();
        using var folder = new GraphFolder();
        string project = NewGraph(folder);
        // One MSBuild node per job in flight: each node waits on its job, so -m bounds the jobs the cluster sees at once.
        BuildResult build = folder.Build(project, $"-p:LlmMergeCluster={_cluster}", "-m:4");
        Assert.That(build.ExitCode, Is.Zero, build + "\n" + string.Join("\n", _workers.Select(w => w.Log)));
        // Every step and evaluation says which worker ran it.
        var ranOn = Regex.Matches(build.Log, @"done in [0-9.]+ s on worker (w\d)").Select(m => m.Groups[1].Value).ToList();
        Assert.That(ranOn, Has.Count.EqualTo(3 + 4), build.Log);
        TestContext.Out.WriteLine($"cluster build: {build.Elapsed.TotalSeconds:F1} s; jobs per worker: {string.Join(", ", ranOn.GroupBy(w => w).Select(g => $"{g.Key} {g.Count()}"))}");
        AssertSame(Outcome(folder, project), local);

        BuildResult again = folder.Build(project, $"-p:LlmMergeCluster={_cluster}");
        Assert.That(again.ExitCode, Is.Zero, again.ToString());
        Assert.That(again.Log, Does.Not.Contain("on worker"), "a second build found work to do");
    }

    [Test]
    public void WorkerKilledMidJobLosesNothing()
    {
        var local = Local();
        using var folder = new GraphFolder();
        string project = NewGraph(folder);
        var before = _workers.ToDictionary(w => w, w => w.Started.Count);
        var build = Task.Run(() => folder.Build(project, $"-p:LlmMergeCluster={_cluster}", "-m:4"));

        // The first worker to start one of this build's jobs is killed with it running.
        WorkerProcess? victim = null;
        string killedJob = "";
        var until = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (victim is null)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(until), "no worker started a job");
            Assert.That(build.IsCompleted, Is.False, "the build ended before any job started");
            foreach (var w in _workers.Where(w => w.Started.Count > before[w]))
            {
                victim = w;
                killedJob = w.Started[before[w]];
                break;
            }
            Thread.Sleep(20);
        }
        Thread.Sleep(300); // its llmmerge process is running by now
        var orphans = victim.Children();
        victim.KillHard();
        var killedAt = DateTime.UtcNow;
        _workers.Remove(victim);
        TestContext.Out.WriteLine($"killed {victim.Name} running job {killedJob}; its job processes: {string.Join(", ", orphans)}");

        BuildResult result = build.Result;
        Assert.That(result.ExitCode, Is.Zero, result + "\n" + victim.Log + "\n" + string.Join("\n", _workers.Select(w => w.Log)));
        AssertSame(Outcome(folder, project), local);

        // The killed job ran again on a surviving worker: as its next attempt, or as attempt 1 again when the queue
        // grain lived on the killed silo and was activated afresh elsewhere (its attempt count went with it; the
        // client's next poll submits the job again).
        var rerun = _workers.Select(w => w.FirstLine(l => l.Contains($"job {killedJob}: started (attempt", StringComparison.Ordinal))).OfType<DateTime>().ToList();
        Assert.That(rerun, Has.Count.EqualTo(1), string.Join("\n", _workers.Select(w => w.Log)));
        TestContext.Out.WriteLine($"the killed job started again {(rerun[0] - killedAt).TotalSeconds:F1} s after the kill");
        Assert.That(_workers.Sum(w => w.Started.Count(k => k == killedJob)), Is.EqualTo(1), "the killed job ran more than once on the survivors");
        // Its processes followed the worker (their standard input closed): nothing of the dead run goes on writing.
        Assert.That(orphans.Where(pid => Directory.Exists($"/proc/{pid}")), Is.Empty, "a job process outlived its killed worker");
        victim.Dispose();
        // The other tests expect three workers, whatever order they run in.
        var replacement = new WorkerProcess(_cluster, victim.Name + "b");
        _workers.Add(replacement);
        replacement.WaitJoined(JoinWithin);
    }

    [Test]
    public void DuplicateSubmissionsRunOnce()
    {
        using var folder = new GraphFolder();
        string recipe = folder.Write("ties.yml", $"""
            merge_method: ties
            base_model: {Path.Combine(folder.Dir, "models", "base")}
            parameters:
              density: 0.5
              normalize: true
            models:
              - model: {Path.Combine(folder.Dir, "models", "expert-a")}
                parameters:
                  weight: 0.5
              - model: {Path.Combine(folder.Dir, "models", "expert-b")}
                parameters:
                  weight: 0.5
            """);
        string output = Path.Combine(folder.Dir, "out", "ties");
        string[] command = ["merge", recipe, output];
        using var a = new Submission(_cluster, "dup-ties", folder.Dir, command);
        using var b = new Submission(_cluster, "dup-ties", folder.Dir, command);
        Assert.That(a.Wait(TimeSpan.FromMinutes(3)), Is.Zero, a.ToString());
        Assert.That(b.Wait(TimeSpan.FromMinutes(3)), Is.Zero, b.ToString());
        string key = Regex.Match(a.StandardError, @"job (dup-ties/\S+):").Groups[1].Value;
        Assert.That(_workers.Sum(w => w.Started.Count(k => k == key)), Is.EqualTo(1), string.Join("\n", _workers.Select(w => w.Log)));
        // Both print the verb's own output (its last line, the model folder, is what a build reads).
        Assert.That(a.StandardOutput.Trim().Split('\n')[^1], Is.EqualTo(output));
        Assert.That(b.StandardOutput, Is.EqualTo(a.StandardOutput));
        Assert.That(a.StandardError + b.StandardError, Does.Contain("2 submission(s)"));

        // Later, with its output in place, the same job is answered without a run; with its output gone it runs again.
        using (var c = new Submission(_cluster, "dup-ties", folder.Dir, command))
            Assert.That(c.Wait(TimeSpan.FromMinutes(2)), Is.Zero, c.ToString());
        Assert.That(_workers.Sum(w => w.Started.Count(k => k == key)), Is.EqualTo(1));
    }

    [Test]
    public void JobAWorkerCannotDoFailsWithItsMessage()
    {
        using var folder = new GraphFolder();
        string missing = Path.Combine(folder.Dir, "no-such-recipe.yml");
        using var s = new Submission(_cluster, "missing-recipe", folder.Dir, "merge", missing, Path.Combine(folder.Dir, "out"));
        Assert.That(s.Wait(TimeSpan.FromMinutes(2)), Is.Not.Zero, s.ToString());
        string last = s.StandardError.Trim().Split('\n')[^1];
        Assert.That(last, Does.StartWith("llmmerge: error: worker w"), s.ToString());
        Assert.That(last, Does.Contain("no-such-recipe.yml"));
    }

    [Test]
    public void ClientStartedBeforeAnyWorkerWaitsForOne()
    {
        string cluster = _redis.Cluster(2);
        using var folder = new GraphFolder();
        string recipe = folder.Write("linear.yml", $"""
            merge_method: linear
            models:
              - model: {Path.Combine(folder.Dir, "models", "expert-a")}
                parameters:
                  weight: 0.5
              - model: {Path.Combine(folder.Dir, "models", "expert-b")}
                parameters:
                  weight: 0.5
            """);
        using var s = new Submission(cluster, "early", folder.Dir, "merge", recipe, Path.Combine(folder.Dir, "out"));
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!s.StandardError.Contains("no worker in cluster", StringComparison.Ordinal))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(until), "the client did not say it waits:\n" + s);
            Thread.Sleep(100);
        }
        using var late = new WorkerProcess(cluster, "late");
        late.WaitJoined(JoinWithin);
        Assert.That(s.Wait(TimeSpan.FromMinutes(3)), Is.Zero, s + "\n" + late.Log);
        Assert.That(s.StandardError, Does.Contain("a worker joined cluster"));
        Assert.That(s.StandardError, Does.Contain("ran on late"));
    }
}
