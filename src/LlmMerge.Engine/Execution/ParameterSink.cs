using LlmMerge.Core;
using LlmMerge.Modeling.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Execution;

/// <summary>
/// Writes merged tensors into a loaded model's parameters instead of a folder (mergekit-evolve's in-memory mode),
/// so a search candidate is merged and scored without touching the disk. Each tensor is rounded to the recipe's
/// output dtype first, so the model computes exactly what it would after loading the folder a disk merge writes.
/// </summary>
public sealed class ParameterSink : IMergeSink
{
    private readonly Dictionary<string, Tensor> _parameters;
    private readonly HashSet<string> _written = new(StringComparer.Ordinal);

    /// <param name="parameters">The model's parameters by Hugging Face name (e.g. <c>named_parameters()</c>).</param>
    public ParameterSink(IEnumerable<(string Name, Tensor Tensor)> parameters)
    {
        _parameters = parameters.ToDictionary(p => p.Name, p => p.Tensor, StringComparer.Ordinal);
    }

    /// <summary>Parameters of a module, under the names its state dict uses.</summary>
    public static ParameterSink For(nn.Module module) =>
        new(module.named_parameters().Select(p => (p.name, (Tensor)p.parameter)));

    public void Begin(MergeContext context)
    {
        _written.Clear();
        foreach (var t in context.Plan.Tensors)
        {
            if (_parameters.TryGetValue(t.Name, out var p) && !p.shape.SequenceEqual(t.Shape))
                throw new LlmMergeException(
                    $"tensor '{t.Name}': the merge makes shape [{string.Join(", ", t.Shape)}] but the loaded model's parameter is [{string.Join(", ", p.shape)}]; load a model of the merge's shape");
        }
    }

    public void Write(PlannedTensor tensor, Tensor merged)
    {
        if (!_parameters.TryGetValue(tensor.Name, out var parameter))
            return; // a tensor the loaded model has no use for (a head its config ties to the embeddings)
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var rounded = merged.to(tensor.OutDType.ToScalarType()).to(parameter.dtype, parameter.device);
        parameter.copy_(rounded);
        _written.Add(tensor.Name);
    }

    public void WriteRaw(PlannedTensor tensor, long offset, ReadOnlySpan<byte> bytes)
    {
        if (_parameters.ContainsKey(tensor.Name))
            throw new LlmMergeException($"tensor '{tensor.Name}' is not a floating-point tensor; a loaded model's parameter cannot take it in memory");
    }

    public void Complete(MergeContext context)
    {
        var missing = _parameters.Keys.Where(k => !_written.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
            throw new LlmMergeException(
                $"the merge wrote no value for {missing.Count} of the loaded model's parameters (first: '{missing[0]}'); the recipe's models do not cover the model being updated");
    }

    public void Dispose()
    {
    }
}
