namespace LlmMerge.Eval.Routing;

/// <summary>
/// Models loaded on first use and kept while they fit a memory budget; a model that would not fit releases the least
/// recently used others first. The evaluator scores a task's rows grouped by expert, so each expert loads at most once
/// per task even when only one fits at a time.
/// </summary>
internal sealed class ModelPool<T> : IDisposable where T : class, IDisposable
{
    private readonly Func<int, T> _load;
    private readonly Func<int, long> _bytes;
    private readonly long _budget;
    private readonly Dictionary<int, (T Model, long Bytes, long Used)> _resident = [];
    private long _clock;

    /// <param name="load">Loads entry i.</param>
    /// <param name="bytes">What entry i is expected to take in memory.</param>
    /// <param name="budget">Bytes the resident models may take together (one model is always allowed).</param>
    public ModelPool(Func<int, T> load, Func<int, long> bytes, long budget)
    {
        _load = load;
        _bytes = bytes;
        _budget = budget;
    }

    /// <summary>How many times a model was loaded (a test's view of the policy).</summary>
    public int Loads { get; private set; }

    public T Get(int index)
    {
        if (_resident.TryGetValue(index, out var r))
        {
            _resident[index] = r with { Used = ++_clock };
            return r.Model;
        }
        long need = _bytes(index);
        while (_resident.Count > 0 && _resident.Values.Sum(x => x.Bytes) + need > _budget)
        {
            var oldest = _resident.MinBy(x => x.Value.Used);
            oldest.Value.Model.Dispose();
            _resident.Remove(oldest.Key);
        }
        var model = _load(index);
        Loads++;
        _resident[index] = (model, need, ++_clock);
        return model;
    }

    public void Dispose()
    {
        foreach (var (m, _, _) in _resident.Values) m.Dispose();
        _resident.Clear();
    }
}
