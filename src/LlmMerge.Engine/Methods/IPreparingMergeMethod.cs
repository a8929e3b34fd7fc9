using LlmMerge.Engine.Execution;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// A method that must see whole models before the tensor loop: RegMean's Gram matrices and Fisher merging's
/// squared gradients come from forward (and backward) passes over calibration rows. The executor calls
/// <see cref="Prepare"/> once per merge, after planning and before the first tensor, and hands what
/// <see cref="IMergePreparation.For"/> returns for each tensor to <see cref="IMergeMethod.Merge"/> as
/// <see cref="MergeInputs.Prepared"/>; it knows nothing else of what is prepared.
/// </summary>
public interface IPreparingMergeMethod : IMergeMethod
{
    /// <summary>Runs the method's passes over the plan's models; the result lives until the merge ends.</summary>
    IMergePreparation Prepare(MergePreparationContext context);
}

/// <summary>What a method prepared for one merge: per-tensor data, released when the merge ends.</summary>
public interface IMergePreparation : IDisposable
{
    /// <summary>The data <see cref="IMergeMethod.Merge"/> reads for <paramref name="tensor"/>, or null where there is none.</summary>
    object? For(PlannedTensor tensor);
}
