using System.Text.Json.Nodes;
using LlmMerge.Core.SafeTensors;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Moe;

/// <summary>One tensor of the output, in the order it is written, with how to compute it (inside the writer's dispose scope).</summary>
internal sealed record OutputTensor(string Name, long[] Shape, SafetensorsDType DType, Func<Tensor> Compute);

/// <summary>
/// An output architecture of mergekit-moe (its <c>MoEOutputArchitecture</c>): whether it takes a recipe, its
/// config.json and its tensors. The gate vectors are computed once for whichever is chosen.
/// </summary>
internal interface IMoeOutput
{
    /// <summary>mergekit's name for it (<c>Mixtral</c>, <c>Qwen MoE</c>); a recipe's <c>architecture</c> is a prefix of it.</summary>
    string Name { get; }

    /// <summary>The <c>architectures</c> entry of the output's config.json.</summary>
    string Architecture { get; }

    /// <summary>Null where the recipe's models fit; else why not, naming the expert and the key.</summary>
    string? WhyNot(MoeInputs inputs);

    /// <summary>The output config.json, from the base's.</summary>
    JsonObject Config(MoeInputs inputs, string? torchDtype);

    /// <summary>Every output tensor in mergekit's write order (which is also the order noise is drawn in).</summary>
    IEnumerable<OutputTensor> Tensors(MoeInputs inputs, MoeTensorReader reader, Tensor gates);
}
