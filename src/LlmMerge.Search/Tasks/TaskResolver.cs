using LlmMerge.Core;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Search.Tasks;

/// <summary>
/// Finds a genome task's file as lm-eval's TaskManager finds tasks: a path to a task file (relative to the working
/// directory or to the genome), else a task YAML anywhere under the task search paths whose <c>task:</c> is the name.
/// </summary>
public sealed class TaskResolver(IReadOnlyList<string> searchPaths, string genomeDir)
{
    private Dictionary<string, List<string>>? _index;

    public string Resolve(string name)
    {
        var tried = new List<string>();
        foreach (string dir in new[] { Directory.GetCurrentDirectory(), genomeDir }.Distinct())
        {
            string p = Path.GetFullPath(Path.Combine(dir, name));
            if (File.Exists(p)) return p;
            tried.Add(p);
        }
        var index = Index();
        if (index.TryGetValue(name, out var files))
        {
            if (files.Count > 1)
                throw new LlmMergeException($"task '{name}' is defined by {files.Count} task YAMLs under the search paths ({string.Join(", ", files)}); keep one or name the file");
            return files[0];
        }
        string where = searchPaths.Count == 0 ? "no --task-search-path given" : "no task YAML under " + string.Join(", ", searchPaths.Select(Path.GetFullPath)) + $" says 'task: {name}'";
        throw new LlmMergeException($"task '{name}' not found: no file {string.Join(" or ", tried)}, and {where}");
    }

    private Dictionary<string, List<string>> Index()
    {
        if (_index is not null) return _index;
        _index = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (string root in searchPaths)
        {
            if (!Directory.Exists(root))
                throw new LlmMergeException($"--task-search-path {root}: no such folder");
            foreach (string file in Directory.EnumerateFiles(root, "*.*", SearchOption.AllDirectories)
                         .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
                         .Select(Path.GetFullPath).Order(StringComparer.Ordinal))
            {
                if (TaskName(file) is not { } task) continue;
                if (!_index.TryGetValue(task, out var list)) _index[task] = list = [];
                if (!list.Contains(file)) list.Add(file);
            }
        }
        return _index;
    }

    /// <summary>The file's top-level <c>task:</c>, or null for YAML that is not a task (or not YAML at all).</summary>
    private static string? TaskName(string file)
    {
        try
        {
            var stream = new YamlStream();
            using (var reader = File.OpenText(file)) stream.Load(reader);
            return stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode m
                && m.Children.TryGetValue(new YamlScalarNode("task"), out var t) && t is YamlScalarNode { Value.Length: > 0 } s ? s.Value : null;
        }
        catch (YamlDotNet.Core.YamlException)
        {
            return null;
        }
    }
}
