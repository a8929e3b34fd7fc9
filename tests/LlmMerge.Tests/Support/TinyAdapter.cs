using System.Text.Json.Nodes;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Tests.Support;

/// <summary>Writes PEFT LoRA adapter folders from seeded values and applies them to a base by plain loops.</summary>
public sealed class TinyAdapter
{
    private readonly List<(string Module, long[] AShape, float[] A, long[] BShape, float[] B)> _pairs = new();

    public JsonObject Config { get; } = new() { ["peft_type"] = "LORA", ["task_type"] = "CAUSAL_LM", ["bias"] = "none" };

    public int Rank { get; }

    public double Alpha { get; }

    public bool RsLora { get; }

    public bool FanInFanOut { get; }

    public TinyAdapter(int rank, double alpha, bool rsLora = false, bool fanInFanOut = false, string? baseModel = null, params string[] targets)
    {
        (Rank, Alpha, RsLora, FanInFanOut) = (rank, alpha, rsLora, fanInFanOut);
        Config["r"] = rank;
        Config["lora_alpha"] = alpha;
        Config["use_rslora"] = rsLora;
        Config["fan_in_fan_out"] = fanInFanOut;
        Config["base_model_name_or_path"] = baseModel;
        Config["target_modules"] = new JsonArray(targets.Select(t => (JsonNode)t).ToArray());
    }

    public double Scale => RsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

    /// <summary>Adds a pair for a base weight of shape [rows, cols] (as stored), seeded.</summary>
    public TinyAdapter Add(string module, long rows, long cols, int seed)
    {
        long outDim = FanInFanOut ? cols : rows, inDim = FanInFanOut ? rows : cols;
        _pairs.Add((module, [Rank, inDim], Fixtures.Values(seed, Rank * inDim), [outDim, Rank], Fixtures.Values(seed + 1, outDim * Rank, 0.5)));
        return this;
    }

    public string Write(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), Config.ToJsonString());
        var specs = new List<(string, SafetensorsDType, long[])>();
        foreach (var p in _pairs)
        {
            specs.Add(($"base_model.model.{p.Module}.lora_A.weight", SafetensorsDType.F32, p.AShape));
            specs.Add(($"base_model.model.{p.Module}.lora_B.weight", SafetensorsDType.F32, p.BShape));
        }
        using var w = new SafetensorsWriter(Path.Combine(dir, "adapter_model.safetensors"), specs);
        foreach (var p in _pairs)
        {
            w.Write($"base_model.model.{p.Module}.lora_A.weight", TinyModel.Encode(p.A, SafetensorsDType.F32));
            w.Write($"base_model.model.{p.Module}.lora_B.weight", TinyModel.Encode(p.B, SafetensorsDType.F32));
        }
        w.Complete();
        return dir;
    }

    /// <summary>The seeded lora_A [r, in] and lora_B [out, r] of a module, row-major, as written.</summary>
    public (float[] A, long[] AShape, float[] B, long[] BShape) Pair(string module)
    {
        var p = _pairs.First(x => x.Module == module);
        return (p.A, p.AShape, p.B, p.BShape);
    }

    /// <summary>W + scale·B·A (transposed with fan_in_fan_out) for a base tensor, in double, by loops; unchanged when not adapted.</summary>
    public float[] Apply(string tensor, long[] shape, float[] w)
    {
        var pair = _pairs.FirstOrDefault(p => p.Module + ".weight" == tensor);
        if (pair.Module is null)
            return w;
        long rows = shape[0], cols = shape[1];
        int r = Rank;
        long inDim = pair.AShape[1];
        var res = new float[w.Length];
        for (long i = 0; i < rows; i++)
        {
            for (long j = 0; j < cols; j++)
            {
                // ΔW[o, n] = Σk B[o, k]·A[k, n]; stored at [o, n], or at [n, o] with fan_in_fan_out.
                long o = FanInFanOut ? j : i, n = FanInFanOut ? i : j;
                double d = 0;
                for (int k = 0; k < r; k++)
                    d += (double)pair.B[o * r + k] * pair.A[k * inDim + n];
                res[i * cols + j] = (float)(w[i * cols + j] + Scale * d);
            }
        }
        return res;
    }
}
