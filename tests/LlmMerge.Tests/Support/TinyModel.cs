using System.Text.Json.Nodes;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Tests.Support;

/// <summary>Writes small Hugging Face model folders from plain float arrays, so tests know every value.</summary>
public sealed class TinyModel
{
    private readonly List<(string Name, long[] Shape, float[] Values, SafetensorsDType DType)> _tensors = new();

    public JsonObject Config { get; } = new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["model_type"] = "llama",
        ["num_hidden_layers"] = 0,
    };

    public TinyModel Add(string name, long[] shape, float[] values, SafetensorsDType dtype = SafetensorsDType.F32)
    {
        Assert.That(values.Length, Is.EqualTo(shape.Aggregate(1L, (a, b) => a * b)), name);
        _tensors.Add((name, shape, values, dtype));
        return this;
    }

    public TinyModel Layers(int n)
    {
        Config["num_hidden_layers"] = n;
        return this;
    }

    /// <summary>Writes the folder; <paramref name="shardBytes"/> splits the weights into several files with an index.</summary>
    public string Write(string dir, long shardBytes = long.MaxValue)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), Config.ToJsonString());
        var specs = _tensors.Select(t => (t.Name, t.DType, t.Shape)).ToList();
        using (var w = new ShardedModelWriter(dir, specs, shardBytes))
        {
            foreach (var t in _tensors)
                w.Write(t.Name, Encode(t.Values, t.DType));
            w.Complete();
        }
        return dir;
    }

    public static byte[] Encode(float[] values, SafetensorsDType dtype)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32:
                return values.SelectMany(BitConverter.GetBytes).ToArray();
            case SafetensorsDType.BF16:
                return values.SelectMany(v => BitConverter.GetBytes(Bf16.FromFloat(v))).ToArray();
            case SafetensorsDType.F16:
                return values.SelectMany(v => BitConverter.GetBytes((Half)v)).ToArray();
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype));
        }
    }
}

/// <summary>bfloat16 by hand: round to nearest even on the top 16 bits of an f32, as torch does.</summary>
public static class Bf16
{
    public static ushort FromFloat(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f))
            return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    public static float ToFloat(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    public static float Round(float f) => ToFloat(FromFloat(f));
}
