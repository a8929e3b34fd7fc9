using System.Text.Json;
using LlmMerge.Contracts.Results;
using LlmMerge.Eval.Scoring;
using LlmMerge.Modeling;

namespace LlmMerge.Tests.Routing;

/// <summary>Runs the evaluator on a model or router folder and reads back what it wrote, for the routing tests.</summary>
public static class RoutedEvaluation
{
    public sealed record Sample(string Task, string Id, double[] LogLikelihoods, int Prediction, string? Expert);

    public static (ResultsDocument Results, List<Sample> Samples) Run(string modelDir, string outDir, params string[] tasks)
    {
        Directory.CreateDirectory(outDir);
        var runner = new EvalRunner(dir => CausalLmLoader.Load(dir));
        string results = Path.Combine(outDir, "RESULTS.json"), samples = Path.Combine(outDir, "SAMPLES.jsonl");
        runner.Run(modelDir, new EvalOptions { Tasks = tasks, OutputPath = results, SamplesPath = samples });
        var lines = File.ReadAllLines(samples).Select(l =>
        {
            var e = JsonDocument.Parse(l).RootElement;
            return new Sample(e.GetProperty("task").GetString()!, e.GetProperty("id").GetString()!,
                e.GetProperty("loglikelihoods").EnumerateArray().Select(x => x.GetDouble()).ToArray(),
                e.GetProperty("prediction").GetInt32(),
                e.TryGetProperty("expert", out var x) ? x.GetString() : null);
        }).ToList();
        return (ResultsSchema.Read(results)!, lines);
    }
}
