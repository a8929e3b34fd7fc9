using System.Text.Json;
using LlmMerge.Contracts.Results;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LlmMerge.Build;

/// <summary>
/// Splits one <c>llmmerge eval</c> run of a model over several tasks into the evaluation cache's per-(model, task)
/// files: each pair's RESULTS.json holds its one task, its SAMPLES.jsonl that task's rows. Each file is written
/// beside its destination under a name unique to this process and renamed over it, so two builds of one graph
/// scoring the same pair both succeed and a reader never sees half a file; whichever rename comes last wins, with
/// the same content.
/// </summary>
public sealed class StoreEvalResults : Microsoft.Build.Utilities.Task
{
    /// <summary>The run's RESULTS.json (in a folder of its own, deleted afterwards).</summary>
    [Required] public string Results { get; set; } = "";
    public string Samples { get; set; } = "";
    /// <summary>The pairs the run scored: TaskFile, ResultFile, SamplesFile.</summary>
    [Required] public ITaskItem[] Pairs { get; set; } = [];
    public string Subject { get; set; } = "";
    public string ErrorFile { get; set; } = "";
    public int ErrorLine { get; set; }

    public override bool Execute()
    {
        string text;
        ResultsDocument results;
        Dictionary<string, List<string>> samples;
        try
        {
            text = File.ReadAllText(Results);
            samples = ReadSamples();
            results = ResultsSchema.Parse(text);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException && AlreadyStored())
        {
            // On a cluster two builds that submitted the same evaluation share one run folder; the first to store it
            // deletes it, after its pairs are in the cache.
            Log.LogMessage(MessageImportance.Normal, $"{Subject}: stored by another build from the same run");
            return true;
        }
        catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            Log.LogError(null, ErrorCodes.EvalFailed, null, ErrorFile, ErrorLine, 0, 0, 0, $"{Subject}: {Results}: not a RESULTS.json ({e.Message})");
            return false;
        }
        foreach (ITaskItem pair in Pairs)
        {
            string file = Path.GetFullPath(pair.GetMetadata("TaskFile"));
            var task = results.Tasks.FirstOrDefault(t => Path.GetFullPath(t.Value.File) == file);
            if (task.Value is null)
            {
                Log.LogError(null, ErrorCodes.EvalFailed, null, ErrorFile, ErrorLine, 0, 0, 0, $"{Subject}: llmmerge eval wrote no result for task file {file}");
                continue;
            }
            // One task per cache file, with the run's own figures (time, tokens, memory) beside it.
            var one = results with { Tasks = [task], Average = task.Value.Metrics.Where(m => m.Value is not null).ToDictionary(m => m.Key, m => m.Value!.Value) };
            StampFile.Replace(pair.GetMetadata("ResultFile"), ResultsSchema.Write(one));
            if (pair.GetMetadata("SamplesFile") is { Length: > 0 } samplesFile)
                StampFile.Replace(samplesFile, samples.TryGetValue(task.Key, out var lines) ? string.Concat(lines.Select(l => l + "\n")) : "");
        }
        try
        {
            Directory.Delete(Path.GetDirectoryName(Path.GetFullPath(Results))!, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder costs disk only.
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>Every pair's result is in the cache and newer than its stamp (the pair's item).</summary>
    private bool AlreadyStored() =>
        Pairs.All(p => File.Exists(p.GetMetadata("ResultFile"))
                       && (!File.Exists(p.ItemSpec) || File.GetLastWriteTimeUtc(p.GetMetadata("ResultFile")) >= File.GetLastWriteTimeUtc(p.ItemSpec))
                       && (p.GetMetadata("SamplesFile") is not { Length: > 0 } f || File.Exists(f)));

    private Dictionary<string, List<string>> ReadSamples()
    {
        var byTask = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (Samples.Length == 0)
            return byTask;
        if (!File.Exists(Samples))
            return AlreadyStored() ? throw new FileNotFoundException("deleted by the build that stored it", Samples) : byTask;
        foreach (string line in File.ReadLines(Samples))
        {
            if (line.Length == 0)
                continue;
            using var doc = JsonDocument.Parse(line);
            string task = doc.RootElement.TryGetProperty("task", out var t) ? t.GetString() ?? "" : "";
            if (!byTask.TryGetValue(task, out var list))
                byTask[task] = list = [];
            list.Add(line);
        }
        return byTask;
    }
}
