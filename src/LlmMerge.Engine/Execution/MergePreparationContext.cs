using LlmMerge.Modeling.Sources;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Execution;

/// <summary>What a preparing method (<see cref="Methods.IPreparingMergeMethod"/>) gets: the plan, the open models, the run's options and a place to say what it is doing.</summary>
/// <param name="Plan">The merge as planned (recipe, method, every output tensor and its inputs).</param>
/// <param name="Models">The models the recipe names, open.</param>
/// <param name="Options">Device, seed and the calibration statistics cache.</param>
/// <param name="Device">The resolved compute device.</param>
/// <param name="Info">Progress lines (the CLI prints them on standard error); null to stay quiet.</param>
public sealed record MergePreparationContext(MergePlan Plan, ModelResolver Models, MergeOptions Options, Device Device, Action<string>? Info);
