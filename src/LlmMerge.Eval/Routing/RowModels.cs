using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;

namespace LlmMerge.Eval.Routing;

/// <summary>
/// Which model scores each row of a task: the one model of a plain evaluation, or the expert a routed system chose for
/// the row. Rows are scored grouped by expert (file order within each), so each expert loads at most once per task.
/// </summary>
internal sealed class RowModels
{
    private readonly ICausalLanguageModel? _model;
    private readonly IRoutedSystem? _system;
    private readonly IReadOnlyList<int>? _route;

    private RowModels(ICausalLanguageModel? model, IRoutedSystem? system, IReadOnlyList<int>? route)
    {
        (_model, _system, _route) = (model, system, route);
    }

    /// <summary>Every row scored by <paramref name="model"/>, or routed by <paramref name="system"/> when it is given.</summary>
    public static RowModels For(ICausalLanguageModel? model, IRoutedSystem? system, EvalTask task, IReadOnlyList<EvalRow> rows)
    {
        if (system is null)
            return new RowModels(model ?? throw new ArgumentNullException(nameof(model)), null, null);
        var route = system.Route(task, rows);
        if (route is not null && route.Count != rows.Count)
            throw new InvalidOperationException($"the router returned {route.Count} choices for {rows.Count} rows");
        return new RowModels(null, system, route);
    }

    /// <summary>Row indices grouped by the model that scores them (one group without routing), experts in order, file order within.</summary>
    public IEnumerable<int[]> Groups(int rows) =>
        _route is null ? (rows == 0 ? [] : [Enumerable.Range(0, rows).ToArray()])
            : Enumerable.Range(0, rows).GroupBy(i => _route[i]).OrderBy(g => g.Key).Select(g => g.ToArray());

    /// <summary>The model for row <paramref name="row"/>; ask again after moving to another expert's rows.</summary>
    public ICausalLanguageModel Model(int row) => _system is null ? _model! : _system.Model(_route?[row] ?? 0);

    /// <summary>The expert that scored the row, or null without per-row routing.</summary>
    public string? Expert(int row) => _route is null ? null : _system!.Experts[_route[row]];

    /// <summary>How many rows went to each expert (every expert listed), or null without per-row routing.</summary>
    public IReadOnlyDictionary<string, int>? Counts
    {
        get
        {
            if (_route is null) return null;
            var counts = _system!.Experts.ToDictionary(e => e, _ => 0, StringComparer.Ordinal);
            foreach (int e in _route) counts[_system.Experts[e]]++;
            return counts;
        }
    }
}
