namespace LlmMerge.Engine.Execution;

/// <summary>
/// Hands finished tensors to the sink on a background thread, in plan order and one at a time, so the next
/// tensor computes while the previous one is written. At most one write is outstanding: memory stays at two
/// outputs, and a failed write stops the merge at the next tensor with the write's own exception.
/// </summary>
internal sealed class TensorWriteQueue : IDisposable
{
    private Task _pending = Task.CompletedTask;

    /// <summary>Waits for the write before, then starts <paramref name="write"/> (which also frees what it wrote).</summary>
    public void Enqueue(Action write)
    {
        Drain();
        _pending = Task.Run(write);
    }

    /// <summary>Waits for the outstanding write; rethrows its exception.</summary>
    public void Drain()
    {
        var pending = _pending;
        _pending = Task.CompletedTask;
        pending.GetAwaiter().GetResult();
    }

    /// <summary>Lets a write still running finish (its result no longer matters: the merge is being abandoned).</summary>
    public void Dispose()
    {
        try
        {
            _pending.Wait();
        }
        catch (AggregateException)
        {
            // The merge already failed or is failing; the first error is the one reported.
        }
    }
}
