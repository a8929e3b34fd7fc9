using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using LlmMerge.Core.IO;
using LlmMerge.Engine.Moe;
using LlmMerge.Eval.Moe;

namespace LlmMerge.Cli.Commands;

/// <summary>
/// <c>llmmerge moe-routing MODEL_DIR --tasks T[,T...]</c>: where a mixture's routers send each task's tokens, per expert
/// (named by the model's mergekit_moe_config.yml where it has one).
/// </summary>
public static class MoeRoutingCommand
{
    public static Command Create()
    {
        var modelDir = new Argument<string>("model-dir") { Description = "a Mixtral or Qwen2-MoE model folder" };
        var tasks = new Option<string>("--tasks") { Description = "task files, comma separated: competition CSVs or lm-eval task YAMLs", Required = true };
        var limit = new Option<int?>("--limit") { Description = "read only the first N rows of each task" };
        var output = new Option<string?>("--output") { Description = "also write the shares as JSON to this file" };
        var device = new Option<string>("--device") { Description = "cpu (default), cuda or cuda:N", DefaultValueFactory = _ => "cpu" };

        var cmd = new Command("moe-routing", "measure how often a mixture's routers send each task's tokens to each expert") { modelDir, tasks, limit, output, device };
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliApp.Guard(stderr, () =>
            {
                string dir = parse.GetValue(modelDir)!;
                var files = parse.GetValue(tasks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var routing = RouterUsage.Measure(dir, files, parse.GetValue(limit), parse.GetValue(device)!);
                var names = ExpertNames(dir, routing[0].TopOne.Length);
                static string Pct(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture);
                stdout.WriteLine("share of (token, layer) routings: first choice % / among the chosen %");
                stdout.WriteLine($"| task | tokens | {string.Join(" | ", names)} |");
                stdout.WriteLine($"| --- | ---: |{string.Concat(names.Select(_ => " ---: |"))}");
                foreach (var r in routing)
                    stdout.WriteLine($"| {r.Task} | {r.Tokens} | {string.Join(" | ", r.TopOne.Select((v, i) => $"{Pct(v)} / {Pct(r.TopK[i])}"))} |");
                if (parse.GetValue(output) is { } path)
                {
                    var json = new JsonObject
                    {
                        ["model"] = Path.GetFullPath(dir),
                        ["experts"] = new JsonArray(names.Select(n => (JsonNode)n).ToArray()),
                        ["tasks"] = new JsonArray(routing.Select(r => (JsonNode)new JsonObject
                        {
                            ["task"] = r.Task,
                            ["tokens"] = r.Tokens,
                            ["top_one"] = new JsonArray(r.TopOne.Select(v => (JsonNode)v).ToArray()),
                            ["top_k"] = new JsonArray(r.TopK.Select(v => (JsonNode)v).ToArray()),
                        }).ToArray()),
                    };
                    AtomicFile.WriteAllText(path, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                }
                return 0;
            });
        });
        return cmd;
    }

    /// <summary>Each expert's source_model from the recipe saved with the model, else "expert N".</summary>
    private static IReadOnlyList<string> ExpertNames(string dir, int count)
    {
        string recipe = Path.Combine(dir, "mergekit_moe_config.yml");
        if (File.Exists(recipe))
        {
            try
            {
                var experts = MoeRecipeParser.ParseFile(recipe).Experts;
                if (experts.Count == count)
                    return experts.Select(e => Path.GetFileName(e.SourceModel.ToString().TrimEnd('/'))).ToList();
            }
            catch (LlmMerge.Core.LlmMergeException)
            {
                // A recipe we cannot read only costs the names.
            }
        }
        return Enumerable.Range(0, count).Select(i => $"expert {i}").ToList();
    }
}
