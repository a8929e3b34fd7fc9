using LlmMerge.Core;
using LlmMerge.Modeling;

namespace LlmMerge.Eval.Routing;

/// <summary>Opens a router folder (router.json) as the system its kind says: query, task or Arrow routing.</summary>
public static class RoutedSystems
{
    /// <param name="routerDir">The folder <c>llmmerge route</c> wrote.</param>
    /// <param name="loadExpert">Loads an expert's model from its folder (the evaluator's model loader).</param>
    /// <param name="device">Where the base (query routing) and the Arrow system run.</param>
    /// <param name="dtype">Their compute dtype.</param>
    /// <param name="memoryBudget">Bytes the resident experts may take together; null: half the memory available.</param>
    public static IRoutedSystem Open(string routerDir, Func<string, ICausalLanguageModel> loadExpert, string device = "cpu", string dtype = "float32", long? memoryBudget = null)
    {
        var manifest = RouterManifest.Read(routerDir);
        long budget = memoryBudget ?? RouterExperts.DefaultBudget();
        return manifest.Kind switch
        {
            RoutingKind.Query => new QueryRoutedSystem(routerDir, manifest, loadExpert, device, dtype, budget),
            RoutingKind.Task => new TaskRoutedSystem(routerDir, manifest, loadExpert, budget),
            RoutingKind.Arrow => new ArrowRoutedSystem(routerDir, manifest, device, dtype),
            _ => throw new LlmMergeException($"{routerDir}: unknown router kind {manifest.Kind}"),
        };
    }
}
