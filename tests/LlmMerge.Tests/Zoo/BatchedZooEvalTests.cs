using System.Text.Json;
using LlmMerge.Tests.Eval;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Zoo;

/// <summary>
/// The eval verb on a committed zoo model scores and generates the same rows whatever the batch size: batches of
/// 16 and of 7 (the last one short) against one row at a time.
/// </summary>
[NonParallelizable]
public class BatchedZooEvalTests
{
    private static string Root => CompetitionData.RepoRoot();

    private static List<JsonElement> Samples(string path) => File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    private static List<JsonElement> Run(TempDir dir, string name, string tasks, int batch)
    {
        var (exit, _, err) = CliRunner.Run("eval", Path.Combine(Root, "merges", "zoo", "multitask"), "--tasks", tasks,
            "--output", dir[$"{name}-{batch}.json"], "--log-samples", dir[$"{name}-{batch}.jsonl"], "--limit", "20", "--batch-size", batch.ToString(System.Globalization.CultureInfo.InvariantCulture), "--quiet");
        Assert.That(exit, Is.EqualTo(0), err);
        return Samples(dir[$"{name}-{batch}.jsonl"]);
    }

    [Test]
    public void BatchedScoresAndGenerationsEqualOneRowAtATime()
    {
        using var dir = new TempDir();
        string tasks = string.Join(',',
            Path.Combine(Root, "tasks", "reversal", "reversal_test.yaml"),
            Path.Combine(Root, "tasks", "world_facts", "world_facts_test.csv"),
            Path.Combine(Root, "tasks", "arithmetic", "arithmetic_generate_test.yaml"));
        var one = Run(dir, "greedy", tasks, 1);
        Assert.That(one, Has.Count.EqualTo(60));
        foreach (int batch in new[] { 16, 7 })
        {
            var many = Run(dir, "greedy", tasks, batch);
            for (int i = 0; i < one.Count; i++)
            {
                Assert.That(many[i].GetProperty("id").GetString(), Is.EqualTo(one[i].GetProperty("id").GetString()), "file order");
                if (one[i].TryGetProperty("loglikelihoods", out var lls))
                {
                    var a = lls.EnumerateArray().Select(e => e.GetDouble()).ToArray();
                    var b = many[i].GetProperty("loglikelihoods").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                    Assert.That(b, Is.EqualTo(a).Within(1e-4), $"batch {batch}, row {i}");
                    Assert.That(many[i].GetProperty("prediction").GetInt32(), Is.EqualTo(one[i].GetProperty("prediction").GetInt32()), $"batch {batch}, row {i}");
                }
                else
                {
                    Assert.That(many[i].GetProperty("resps").GetRawText(), Is.EqualTo(one[i].GetProperty("resps").GetRawText()), $"batch {batch}, row {i}");
                }
            }
        }

        // The multi-task model knows its sums: the generated answers are right, not merely equal.
        var r = JsonDocument.Parse(File.ReadAllText(dir["greedy-16.json"])).RootElement.GetProperty("tasks");
        Assert.That(r.GetProperty("arithmetic_generate_test").GetProperty("metrics").GetProperty("exact_match,sum").GetDouble(), Is.GreaterThan(0.9));
    }

    [Test]
    public void SampledRepeatsDrawTheSameTokensInAnyBatch()
    {
        using var dir = new TempDir();
        string yaml = File.ReadAllText(Path.Combine(Root, "tasks", "arithmetic", "arithmetic_generate_test.yaml"))
            .Replace("do_sample: false", "do_sample: true\n  temperature: 1.5\n  top_k: 20", StringComparison.Ordinal)
            .Replace("test.jsonl", Path.Combine(Root, "tasks", "arithmetic", "test.jsonl"), StringComparison.Ordinal)
            + "repeats: 3\n";
        File.WriteAllText(dir["sampled.yaml"], yaml);
        var one = Run(dir, "sampled", dir["sampled.yaml"], 1);
        var many = Run(dir, "sampled", dir["sampled.yaml"], 16);
        Assert.That(many.Select(s => s.GetProperty("resps").GetRawText()), Is.EqualTo(one.Select(s => s.GetProperty("resps").GetRawText())));
        var resps = one.SelectMany(s => s.GetProperty("resps").EnumerateArray().Select(e => e.GetString())).ToList();
        Assert.That(resps, Has.Count.EqualTo(60));
        Assert.That(one.Count(s => s.GetProperty("resps").EnumerateArray().Select(e => e.GetString()).Distinct().Count() > 1), Is.GreaterThan(0),
            "at temperature 1.5 some row's three samples differ");
    }
}
