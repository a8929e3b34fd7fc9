using LlmMerge.Core;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;

namespace LlmMerge.Eval.Routing;

/// <summary>Task routing at evaluation: every row of a task to the expert its validation chose; a task the router does not know is an error.</summary>
internal sealed class TaskRoutedSystem : IRoutedSystem
{
    private readonly string _dir;
    private readonly RouterManifest _manifest;
    private readonly ModelPool<ICausalLanguageModel> _pool;

    public TaskRoutedSystem(string dir, RouterManifest manifest, Func<string, ICausalLanguageModel> loadExpert, long budget)
    {
        _dir = dir;
        _manifest = manifest;
        var folders = manifest.Experts.Select(e => new Lazy<string>(() => RouterExperts.Locate(dir, e))).ToArray();
        _pool = new ModelPool<ICausalLanguageModel>(i => loadExpert(folders[i].Value), i => RouterExperts.EstimatedBytes(folders[i].Value), budget);
    }

    public IReadOnlyList<string> Experts => _manifest.Experts.Select(e => e.Name).ToList();

    public IReadOnlyList<int>? Route(EvalTask task, IReadOnlyList<EvalRow> rows)
    {
        ArgumentNullException.ThrowIfNull(task);
        var choice = _manifest.Tasks.FirstOrDefault(t => t.Task == task.Name)
            ?? throw new LlmMergeException($"{Path.Combine(_dir, RouterManifest.FileName)}: task '{task.Name}' ({task.SourcePath}) is not in the router's validation map, which routes {string.Join(", ", _manifest.Tasks.Select(t => t.Task))}; add '{task.Name}: VALIDATION_FILE' to validation and build the router again");
        int expert = _manifest.ExpertIndex(choice.Expert);
        return Enumerable.Repeat(expert, rows.Count).ToArray();
    }

    public ICausalLanguageModel Model(int expert) => _pool.Get(expert);

    public void Dispose() => _pool.Dispose();
}
