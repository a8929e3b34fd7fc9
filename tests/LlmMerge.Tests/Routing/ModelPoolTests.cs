using LlmMerge.Contracts.Results;
using LlmMerge.Eval.Routing;

namespace LlmMerge.Tests.Routing;

/// <summary>Experts stay loaded while they fit the budget and load in turn when they do not; RESULTS.json carries routed_rows.</summary>
public class ModelPoolTests
{
    private sealed class Counted(int id, List<int> disposed) : IDisposable
    {
        public int Id => id;

        public void Dispose() => disposed.Add(id);
    }

    [Test]
    public void ModelsThatFitStayAndOthersReplaceTheLeastRecentlyUsed()
    {
        var disposed = new List<int>();
        using (var roomy = new ModelPool<Counted>(i => new Counted(i, disposed), _ => 10, budget: 100))
        {
            foreach (int i in new[] { 0, 1, 2, 0, 1, 2 }) Assert.That(roomy.Get(i).Id, Is.EqualTo(i));
            Assert.That(roomy.Loads, Is.EqualTo(3), "each expert loads once when all fit");
        }
        Assert.That(disposed, Is.EquivalentTo(new[] { 0, 1, 2 }));

        disposed.Clear();
        using var tight = new ModelPool<Counted>(i => new Counted(i, disposed), _ => 10, budget: 25);
        tight.Get(0);
        tight.Get(1);
        tight.Get(0);
        tight.Get(2); // two fit: 1 is the least recently used
        Assert.That(disposed, Is.EqualTo(new[] { 1 }));
        Assert.That(tight.Loads, Is.EqualTo(3));
        using var single = new ModelPool<Counted>(i => new Counted(i, disposed), _ => 10, budget: 1);
        Assert.That(single.Get(5).Id, Is.EqualTo(5), "one model is always allowed, whatever the budget");
    }

    [Test]
    public void RoutedRowsRoundTripThroughResultsJson()
    {
        var metrics = new Dictionary<string, double?> { ["acc"] = 0.5 };
        var doc = new ResultsDocument("m", "lm-eval", "cpu", null,
            [new("t", new TaskResults("t.csv", 4, 4, 0, 4, 0, 0.5, metrics) { RoutedRows = new Dictionary<string, int> { ["a"] = 3, ["b"] = 1 } }),
             new("u", new TaskResults("u.csv", 2, 2, 0, 2, 0, 0.5, metrics))],
            new Dictionary<string, double> { ["acc"] = 0.5 }, 1, 1, 10, 10, 1);
        var back = ResultsSchema.Parse(ResultsSchema.Write(doc));
        Assert.That(back.Task("t")!.RoutedRows, Is.EquivalentTo(new Dictionary<string, int> { ["a"] = 3, ["b"] = 1 }));
        Assert.That(back.Task("u")!.RoutedRows, Is.Null, "absent for a plain model");
        Assert.That(ResultsSchema.Write(doc), Does.Contain("\"routed_rows\"").And.Not.Contain("\"routed_rows\": null"));
    }
}
