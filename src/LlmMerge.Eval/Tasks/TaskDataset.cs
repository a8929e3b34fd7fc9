using System.Text.RegularExpressions;
using LlmMerge.Core;

namespace LlmMerge.Eval.Tasks;

/// <summary>
/// Finds a task YAML's local data as Hugging Face's <c>load_dataset</c> would: <c>dataset_path</c> json/csv/parquet
/// with <c>data_files</c>; a single file (the train split); or a folder whose file names carry the split
/// (train, validation/valid/val/dev, test/eval), all files being train when none does. Relative paths are taken
/// from the YAML's folder first, then the working directory. Nothing is downloaded.
/// </summary>
public static partial class TaskDataset
{
    private static readonly string[] BuilderNames = ["json", "csv", "parquet"];

    /// <summary>The splits of <paramref name="config"/>'s data, each a list of records in file order.</summary>
    public static Dictionary<string, List<TaskDoc>> Load(TaskConfig config)
    {
        string yamlDir = Path.GetDirectoryName(Path.GetFullPath(config.SourcePath))!;
        string? builder = config.DatasetPath is string dp && BuilderNames.Contains(dp) ? dp : null;
        var splits = new Dictionary<string, List<TaskDoc>>(StringComparer.Ordinal);

        if (config.DatasetPath is null || builder is not null)
        {
            if (config.DataFiles.Count == 0)
                throw new LlmMergeException($"{config.SourcePath}: {(builder is null ? "dataset_path is missing" : $"dataset_path: {builder} needs data_files")}; name the local files, e.g. data_files: {{test: data/test.jsonl}}.");
            foreach (var (split, files) in config.DataFiles)
                splits[split] = files.SelectMany(f => ReadFile(Resolve(f, yamlDir, config), builder, config)).ToList();
            return splits;
        }

        string path = Resolve(config.DatasetPath, yamlDir, config);
        if (File.Exists(path))
        {
            if (config.DataFiles.Count > 0)
                throw new LlmMergeException($"{config.SourcePath}: dataset_path is a file and data_files is set too; give one of them.");
            splits["train"] = ReadFile(path, null, config);
            return splits;
        }

        if (config.DataFiles.Count > 0)
        {
            foreach (var (split, files) in config.DataFiles)
                splits[split] = files.SelectMany(f => ReadFile(Resolve(f, path, config), null, config)).ToList();
            return splits;
        }

        var found = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
            .Where(f => DatasetFiles.FormatOf(f) is not null)
            .OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => (File: f, Split: SplitOf(Path.GetRelativePath(path, f))))
            .ToList();
        if (found.Count == 0)
            throw new LlmMergeException($"{path}: the dataset folder holds no .jsonl, .json, .csv or .parquet files.");
        bool anyNamed = found.Any(f => f.Split is not null);
        foreach (var (file, split) in found)
        {
            if (anyNamed && split is null) continue;
            string name = split ?? "train";
            if (!splits.TryGetValue(name, out var docs)) splits[name] = docs = [];
            docs.AddRange(ReadFile(file, null, config));
        }

        return splits;
    }

    private static List<TaskDoc> ReadFile(string path, string? builder, TaskConfig config)
    {
        string format = builder ?? DatasetFiles.FormatOf(path)
            ?? throw new LlmMergeException($"{config.SourcePath}: cannot tell the format of {path} from its extension; use .jsonl, .json, .csv or .parquet, or set dataset_path to json, csv or parquet.");
        return DatasetFiles.Read(path, format);
    }

    private static string Resolve(string file, string baseDir, TaskConfig config)
    {
        if (Path.IsPathRooted(file)) return file;
        string beside = Path.Combine(baseDir, file);
        if (File.Exists(beside) || Directory.Exists(beside)) return beside;
        string fromCwd = Path.GetFullPath(file);
        if (File.Exists(fromCwd) || Directory.Exists(fromCwd)) return fromCwd;
        throw new LlmMergeException($"{config.SourcePath}: data '{file}' not found (looked in {baseDir} and the working directory). llmmerge reads local files only.");
    }

    private static string? SplitOf(string relativePath)
    {
        foreach (string word in WordSplit().Split(relativePath.ToLowerInvariant()))
        {
            switch (word)
            {
                case "train" or "training": return "train";
                case "validation" or "valid" or "val" or "dev": return "validation";
                case "test" or "testing" or "eval" or "evaluation": return "test";
            }
        }

        return null;
    }

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex WordSplit();
}
