using System.CommandLine;
using System.Diagnostics;
using LlmMerge.Eval.Routing;

namespace LlmMerge.Cli.Commands;

/// <summary><c>llmmerge route CONFIG.yml OUT_DIR</c>: builds a routed system (query, task or Arrow routing) that <c>llmmerge eval</c> scores like a model.</summary>
public static class RouteCommand
{
    public static Command Create()
    {
        var config = new Argument<string>("config") { Description = "router config: mergekit-moe's YAML plus routing, layer, validation, prompt_tasks" };
        var outDir = new Argument<string>("out-dir") { Description = "output folder: router.json, router.safetensors, tokenizer, card (replaced only when complete)" };
        var device = new Option<string>("--device") { Description = "cpu (default), cuda or cuda:N: where the base and the experts run while building", DefaultValueFactory = _ => "cpu" };
        var quiet = new Option<bool>("--quiet") { Description = "no progress on standard error" };

        var cmd = new Command("route", "build a routed system over experts: per query, per task or per token (Arrow)") { config, outDir, device, quiet };
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliApp.Guard(stderr, () =>
            {
                var clock = Stopwatch.StartNew();
                var recipe = RouteConfig.ParseFile(parse.GetValue(config)!);
                var builder = new RouterBuilder
                {
                    Device = parse.GetValue(device)!,
                    Log = parse.GetValue(quiet) ? null : stderr.WriteLine,
                };
                string output = parse.GetValue(outDir)!;
                var manifest = builder.Build(recipe, output);
                string detail = manifest.Kind switch
                {
                    RoutingKind.Task => string.Join(", ", manifest.Tasks.Select(t => $"{t.Task} -> {t.Expert}")),
                    RoutingKind.Query => $"{manifest.GateMode}, layer {manifest.Layer}",
                    _ => $"top {manifest.TopK}, temperature {manifest.Temperature}",
                };
                stdout.WriteLine($"routed {manifest.Experts.Count} experts ({RouterManifest.KindName(manifest.Kind)}: {detail}) in {clock.Elapsed.TotalSeconds:F1} s");
                stdout.WriteLine(Path.GetFullPath(output));
                return 0;
            });
        });
        return cmd;
    }
}
