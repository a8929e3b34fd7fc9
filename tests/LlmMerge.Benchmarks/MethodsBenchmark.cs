using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace LlmMerge.Benchmarks;

/// <summary>
/// Times the methods beyond mergekit on the merge benchmark's models (base + 3 experts, 1.25 GB bf16): each in its own
/// process, float32 compute, bf16 out, with its peak resident memory. Calibrated methods run on rows of a generated
/// task with the zoo's tokenizer (copied into the model folders), first with an empty statistics cache and then again
/// reading it. TIES runs too, as the yardstick of the README's benchmark.
/// </summary>
public static class MethodsBenchmark
{
    public static readonly string[] Methods = ["ties", "tsv", "iso_c", "iso_cts", "geometric_median", "ram", "ramplus_tl", "regmean", "regmean_plusplus", "fisher"];

    private static readonly HashSet<string> Calibrated = ["regmean", "regmean_plusplus", "fisher"];

    public static int Run(string dir, IReadOnlyList<string> methods, int rows, Func<string, string, (double Seconds, double PeakGb)?> runOne)
    {
        PrepareCalibration(dir, rows);
        Console.WriteLine($"base + 3 experts (hidden 1024, 8 layers, vocab 32000), float32 compute, bf16 out; calibration {rows} rows per model; load average at start {LoadAverage()}");
        Console.WriteLine("| method | seconds | peak RSS (GB) | seconds with cached statistics |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach (string method in methods)
        {
            string recipe = WriteRecipe(dir, method);
            string cache = Path.Combine(dir, "calibration-cache-" + method);
            if (Directory.Exists(cache))
                Directory.Delete(cache, recursive: true);
            var first = runOne(recipe, cache);
            if (first is null)
                return 1;
            string again = "";
            if (Calibrated.Contains(method) && runOne(recipe, cache) is { } second)
                again = second.Seconds.ToString("F1", CultureInfo.InvariantCulture);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| `{method}` | {first.Value.Seconds:F1} | {first.Value.PeakGb:F2} | {again} |"));
        }
        Console.WriteLine($"load average at the end {LoadAverage()}");
        return 0;
    }

    public static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static string WriteRecipe(string dir, string method)
    {
        var sb = new StringBuilder($"merge_method: {method}\nbase_model: base\ndtype: float32\nout_dtype: bfloat16\n");
        if (method == "ties")
            sb.Append("parameters:\n  density: 0.5\n");
        sb.Append("models:\n");
        foreach (string e in new[] { "expert-1", "expert-2", "expert-3" })
            sb.Append($"  - model: {e}\n").Append(method == "ties" ? "    parameters: {weight: 1.0}\n" : "");
        if (Calibrated.Contains(method))
            sb.Append($"calibration:\n  tasks: [{Path.Combine(dir, "calibration.csv")}]\n  rows: 1000000\n");
        string path = Path.Combine(dir, $"method-{method}.yml");
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    /// <summary>The zoo's tokenizer in every model folder (ids below 512 fit the 32000-row embeddings) and a task of <paramref name="rows"/> rows.</summary>
    private static void PrepareCalibration(string dir, int rows)
    {
        string zoo = Path.Combine(RepoRoot(), "merges", "zoo", "base");
        foreach (string model in new[] { "base", "expert-1", "expert-2", "expert-3" })
        {
            foreach (string f in new[] { "tokenizer.json", "tokenizer_config.json" })
                File.Copy(Path.Combine(zoo, f), Path.Combine(dir, model, f), overwrite: true);
        }
        var csv = new StringBuilder("id,input,target,answer_choices,eval_type\n");
        var rng = new Random(7);
        for (int i = 0; i < rows; i++)
        {
            int a = rng.Next(10, 90), b = rng.Next(10, 90);
            csv.Append(CultureInfo.InvariantCulture, $"{i},\"Question: What is {a} plus {b}?\nAnswer:\",0,\"['{a + b}', '{a + b + 1}', '{a + b - 10}']\",multiple_choice\n");
        }
        File.WriteAllText(Path.Combine(dir, "calibration.csv"), csv.ToString());
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "LlmMergePipeline.sln")))
                return d.FullName;
        }
        throw new InvalidOperationException("run the benchmark from a build inside the repository (no LlmMergePipeline.sln above " + AppContext.BaseDirectory + ")");
    }
}
