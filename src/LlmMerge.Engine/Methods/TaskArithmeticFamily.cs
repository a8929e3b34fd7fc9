using LlmMerge.Core;
using LlmMerge.Engine.Kernels;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// mergekit's generalized task arithmetic: task vectors (model - base) are optionally sparsified, weighted,
/// optionally filtered by a sign election, summed, optionally divided by the sum of the weights that took part,
/// scaled by <c>lambda</c>, and added back to the base. task_arithmetic, ties, dare_linear, dare_ties, the
/// breadcrumbs and the della methods are this one procedure with different switches (see their own files).
/// </summary>
public abstract class TaskArithmeticFamily : IFusedMergeMethod
{
    public abstract string Name { get; }

    public abstract string PrettyName { get; }

    public abstract string? ReferenceUrl { get; }

    protected abstract ConsensusMethod? Consensus { get; }

    protected abstract SparsificationMethod? Sparsify { get; }

    protected abstract bool DefaultNormalize { get; }

    protected abstract bool DefaultRescale { get; }

    public IReadOnlyList<ParameterDefinition> Parameters =>
    [
        new("int8_mask", Default: false),
        new("normalize", Default: DefaultNormalize),
        new("rescale", Default: DefaultRescale),
        new("lambda", Default: 1.0),
    ];

    public IReadOnlyList<ParameterDefinition> TensorParameters => Sparsify switch
    {
        SparsificationMethod.MagnitudeOutliers => [new("weight", Required: true), new("density", Default: 1.0), new("gamma", Default: 0.01)],
        SparsificationMethod.DellaMagprune => [new("weight", Required: true), new("density", Default: 1.0), new("epsilon", Default: 0.15)],
        _ => [new("weight", Required: true), new("density", Default: 1.0)],
    };

    public bool RequiresBaseModel => true;

    /// <summary>Tests set this to compare the fused CPU path with the libtorch one.</summary>
    internal static bool ForceTorchPath { get; set; }

    public bool TryMergeFused(FusedMergeInputs inputs, RawTensor output) =>
        !ForceTorchPath
        && TaskArithmeticKernel.TryMerge(inputs, output,
            new TaskArithmeticKernel.Settings(Sparsify, Consensus, inputs.Flag("normalize"), inputs.Flag("rescale"), inputs.Number("lambda")));

    public Tensor Merge(MergeInputs inputs)
    {
        if (FusedTensors.TryMerge(this, inputs) is { } fusedResult)
            return fusedResult;
        using var scope = NewDisposeScope();
        var baseInput = inputs.Base ?? throw new LlmMergeException($"{Name}: base_model is not among the inputs of tensor '{inputs.TensorName}'");
        var b = baseInput.Tensor;
        var dtype = b.dtype;
        bool normalize = inputs.Flag("normalize");
        bool rescale = inputs.Flag("rescale");
        double lambda = inputs.Number("lambda");
        if (FusedTaskArithmetic.Applies(inputs, Sparsify, Consensus) && !ForceTorchPath)
        {
            // The fused path computes in the inputs' own memory; cached inputs are copied first.
            var owned = inputs.Owned();
            return FusedTaskArithmetic.Merge(owned, owned.Base!, Sparsify == SparsificationMethod.Magnitude, Consensus is not null, normalize, rescale, lambda)
                .MoveToOuterDisposeScope();
        }

        var weighted = new List<Tensor>();
        var weights = new List<double>();
        foreach (var m in inputs.Tensors)
        {
            if (m == baseInput)
                continue;
            var delta = m.Tensor.to(dtype).sub(b);
            if (Sparsify is { } method)
            {
                double gamma = m.Parameters.TryGetValue("gamma", out var g) && g is not null ? ParameterValues.ToDouble(g, "gamma") : 0.01;
                double epsilon = m.Parameters.TryGetValue("epsilon", out var e) && e is not null ? ParameterValues.ToDouble(e, "epsilon") : 0.15;
                try
                {
                    delta = Sparsification.Apply(delta, method, m.Number("density"), rescale, inputs.Random, gamma, epsilon);
                }
                catch (LlmMergeException problem)
                {
                    // Sparsification knows the numbers; say which method, model and tensor they came from.
                    throw new LlmMergeException($"{Name}: {problem.Message} (model '{m.Model}', tensor '{inputs.TensorName}')", problem);
                }
            }
            // mergekit holds the weights in a tensor of the computation dtype; round them the same way.
            double w = tensor(m.Number("weight"), dtype).to(ScalarType.Float64).item<double>();
            weights.Add(w);
            weighted.Add(delta.mul_(w));
        }
        if (weighted.Count == 0)
            return b.alias().MoveToOuterDisposeScope();

        Tensor mixed, divisor;
        if (Consensus is { } consensus)
        {
            Tensor majority;
            if (consensus == ConsensusMethod.Sum)
            {
                var total = weighted[0].clone();
                for (int i = 1; i < weighted.Count; i++)
                    total.add_(weighted[i]);
                majority = total.ge(0);
            }
            else
            {
                var votes = weighted[0].sign();
                for (int i = 1; i < weighted.Count; i++)
                    votes.add_(weighted[i].sign());
                majority = votes.ge(0);
            }
            // sign == majority_sign, where majority is +1 or -1: zero entries never agree.
            var positive = majority;
            mixed = zeros_like(b);
            divisor = zeros_like(b);
            for (int i = 0; i < weighted.Count; i++)
            {
                var agree = where(positive, weighted[i].gt(0), weighted[i].lt(0));
                var maskF = agree.to(dtype);
                mixed.add_(weighted[i].mul(maskF));
                divisor.add_(maskF.mul_(weights[i]));
            }
            divisor.masked_fill_(divisor.eq(0), 1);
        }
        else
        {
            mixed = weighted[0].clone();
            for (int i = 1; i < weighted.Count; i++)
                mixed.add_(weighted[i]);
            double sum = weights.Sum();
            divisor = full_like(b, Math.Abs(sum) < 1e-8 ? 1 : sum);
        }
        if (normalize)
            mixed.div_(divisor);
        if (lambda != 1)
            mixed.mul_(lambda);
        return b.add(mixed).to(dtype).MoveToOuterDisposeScope();
    }
}
