using Microsoft.Build.Framework;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Build.Kinds;

/// <summary>
/// A kind of graph step (merge, mixture of experts, router, search): its item type, how an item becomes a step,
/// the recipe its CLI verb runs, and where its model appears. Everything else (fingerprints, stamps, levels, error
/// lines, report rows, publishing) is shared by every kind. A kind is one class registered in <see cref="StepKinds"/>
/// and one file in build/kinds/ that hands its items to the graph.
/// </summary>
internal interface IStepKind
{
    /// <summary>The MSBuild item type (<c>MergeStep</c>).</summary>
    string ItemType { get; }

    /// <summary>The <c>llmmerge</c> verb that runs a step (<c>merge</c>).</summary>
    string Verb { get; }

    /// <summary>Keys whose scalar values in a Config= YAML name a model: an expert, a step, or a folder.</summary>
    IReadOnlySet<string> ModelKeys { get; }

    /// <summary>Reads and checks one item into a step (errors logged through <paramref name="graph"/>); null when it is wrong.</summary>
    StepNode? Read(MergeGraph graph, ITaskItem item);

    /// <summary>The recipe the verb runs, models named by <paramref name="reference"/> (paths to run, fingerprints to hash).</summary>
    YamlMappingNode Recipe(StepNode step, Func<string, string> reference, Func<string, string> folder);

    /// <summary>The verb's arguments for a recipe file and an output folder.</summary>
    IReadOnlyList<string> Arguments(string recipeFile, string outputDir, IReadOnlyList<string> extra);

    /// <summary>The model folder a later step or an evaluation reads, for the step's output folder.</summary>
    string ModelDir(string outputDir) => outputDir;

    /// <summary>A file inside <see cref="ModelDir"/> that exists once the step's model does.</summary>
    string ModelMarker => "config.json";
}
