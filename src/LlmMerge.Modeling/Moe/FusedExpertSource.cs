using System.Text.RegularExpressions;
using LlmMerge.Core;
using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Modeling.Moe;

/// <summary>
/// A mixture checkpoint in transformers 5's fused layout (its conversion_mapping.py for mixtral and qwen2_moe:
/// <c>mlp.experts.gate_up_proj</c> [experts, 2·intermediate, hidden] with each expert's gate rows before its up rows,
/// <c>mlp.experts.down_proj</c> [experts, hidden, intermediate], and Mixtral's router renamed from
/// <c>block_sparse_moe.gate</c> to <c>mlp.gate</c>), presented under the per-expert names of the Hub's checkpoints
/// (<c>block_sparse_moe.experts.E.w1</c>, <c>mlp.experts.E.gate_proj</c>). An expert's slice of a fused tensor is
/// contiguous, so from a folder it is read straight from the memory map; names already present pass through.
/// </summary>
public sealed partial class FusedExpertSource : IModelSource
{
    private readonly IModelSource _inner;

    private FusedExpertSource(IModelSource inner) => _inner = inner;

    /// <summary><paramref name="source"/> itself when it holds no fused expert tensors, else a view that splits them.</summary>
    public static IModelSource Over(IModelSource source)
    {
        bool fused = source.TensorNames.Any(n => n.EndsWith(".mlp.experts.gate_up_proj", StringComparison.Ordinal) || n.EndsWith(".mlp.experts.down_proj", StringComparison.Ordinal));
        return fused ? new FusedExpertSource(source) : source;
    }

    [GeneratedRegex(@"^(?<layer>.*\.layers\.\d+)\.(?<block>block_sparse_moe|mlp)\.(?:(?<gate>gate)\.weight|experts\.(?<expert>\d+)\.(?<proj>w1|w2|w3|gate_proj|up_proj|down_proj)\.weight)$")]
    private static partial Regex ExpertName();

    /// <summary>The fused tensor a per-expert name reads from, which expert, and which half of gate_up_proj (0 gate, 1 up, -1 whole).</summary>
    private (string Fused, int Expert, int Half)? Map(string name)
    {
        if (_inner.Contains(name))
            return null;
        var m = ExpertName().Match(name);
        if (!m.Success)
            return null;
        string layer = m.Groups["layer"].Value;
        if (m.Groups["gate"].Success)
            return m.Groups["block"].Value == "block_sparse_moe" ? ($"{layer}.mlp.gate.weight", -1, -2) : null;
        int expert = int.Parse(m.Groups["expert"].Value, System.Globalization.CultureInfo.InvariantCulture);
        return m.Groups["proj"].Value switch
        {
            "w1" or "gate_proj" => ($"{layer}.mlp.experts.gate_up_proj", expert, 0),
            "w3" or "up_proj" => ($"{layer}.mlp.experts.gate_up_proj", expert, 1),
            _ => ($"{layer}.mlp.experts.down_proj", expert, -1),
        };
    }

    public ModelReference Reference => _inner.Reference;

    public string Directory => _inner.Directory;

    public ModelConfig? Config => _inner.Config;

    public IReadOnlyList<string> TensorNames => _inner.TensorNames;

    public bool Contains(string name) => _inner.Contains(name) || (Map(name) is { } m && _inner.Contains(m.Fused));

    public TensorInfo GetInfo(string name)
    {
        if (Map(name) is not { } m || !_inner.Contains(m.Fused))
            return _inner.GetInfo(name);
        var fused = _inner.GetInfo(m.Fused);
        if (m.Half == -2)
            return fused with { Name = name };
        var s = fused.Shape;
        if (s.Length != 3 || m.Expert >= s[0] || (m.Half >= 0 && s[1] % 2 != 0))
            throw new LlmMergeException($"{Reference}: fused tensor '{m.Fused}' has shape {fused.ShapeText}; expected [experts, {(m.Half >= 0 ? "2·intermediate" : "hidden")}, ...] holding expert {m.Expert}");
        long rows = m.Half >= 0 ? s[1] / 2 : s[1];
        long bytes = rows * s[2] * fused.DType.SizeOf();
        long begin = fused.Begin + (m.Expert * s[1] * s[2] * fused.DType.SizeOf()) + (m.Half == 1 ? bytes : 0);
        return new TensorInfo(name, fused.DType, [rows, s[2]], begin, begin + bytes);
    }

    public Tensor Load(string name, ScalarType computeType, Device device)
    {
        if (Map(name) is not { } m || !_inner.Contains(m.Fused))
            return _inner.Load(name, computeType, device);
        if (m.Half == -2)
            return _inner.Load(m.Fused, computeType, device);
        var slice = GetInfo(name);
        if (_inner is FolderModelSource folder)
            return TensorBridge.Load(folder.Folder.GetFile(m.Fused), slice, computeType, device);
        using var whole = _inner.Load(m.Fused, computeType, device);
        var rows = whole[m.Expert];
        return (m.Half >= 0 ? rows.narrow(0, m.Half * slice.Shape[0], slice.Shape[0]) : rows).contiguous();
    }

    public ITensorFile RawFile(string name) =>
        Map(name) is { } m && _inner.Contains(m.Fused) ? _inner.RawFile(m.Fused) : _inner.RawFile(name);

    public long Evict(string name)
    {
        if (Map(name) is not { } m || !_inner.Contains(m.Fused))
            return _inner.Evict(name);
        // The fused tensor holds other experts' rows too; they are read next, so its pages stay.
        return GetInfo(name).ByteLength;
    }
}
