using System.Text.Json.Nodes;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Benchmarks;

/// <summary>
/// Writes a Llama-shaped base model and experts (base plus seeded noise) in bf16, sharded, with config.json:
/// the shapes and dtype real checkpoints have, at a size chosen on the command line.
/// </summary>
public static class CheckpointGenerator
{
    public sealed record Shape(int Hidden, int Intermediate, int Layers, int Vocab, int KvHeads, int Heads);

    /// <summary>The benchmark's default set: 1.25 GB of bf16 for base + 3 experts.</summary>
    public static readonly Shape Small = new(Hidden: 1024, Intermediate: 2816, Layers: 8, Vocab: 32000, KvHeads: 4, Heads: 16);

    /// <summary>A 7B model's tensors (Mistral-7B's: hidden 4096, intermediate 14336, 32 heads over 8 key/value heads, vocab 32000), with fewer layers.</summary>
    public static Shape SevenB(int layers) => new(Hidden: 4096, Intermediate: 14336, Layers: layers, Vocab: 32000, KvHeads: 8, Heads: 32);

    public static long ModelBytes(Shape s) => Tensors(s).Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b) * 2);

    /// <summary>
    /// As many 7B layers as keep base + 3 experts within <paramref name="bytes"/> of page cache (one layer is 0.87
    /// GB per model in bf16 there, the embeddings and head 0.52 GB), at least one.
    /// </summary>
    public static int SevenBLayersFitting(long bytes)
    {
        long fixedBytes = 4 * ModelBytes(SevenB(0));
        long perLayer = 4 * (ModelBytes(SevenB(1)) - ModelBytes(SevenB(0)));
        return (int)Math.Clamp((bytes - fixedBytes) / perLayer, 1, 32);
    }

    public static IEnumerable<(string Name, long[] Shape)> Tensors(Shape s)
    {
        int headDim = s.Hidden / s.Heads;
        yield return ("model.embed_tokens.weight", [s.Vocab, s.Hidden]);
        for (int i = 0; i < s.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            yield return (p + "input_layernorm.weight", [s.Hidden]);
            yield return (p + "self_attn.q_proj.weight", [s.Hidden, s.Hidden]);
            yield return (p + "self_attn.k_proj.weight", [s.KvHeads * headDim, s.Hidden]);
            yield return (p + "self_attn.v_proj.weight", [s.KvHeads * headDim, s.Hidden]);
            yield return (p + "self_attn.o_proj.weight", [s.Hidden, s.Hidden]);
            yield return (p + "post_attention_layernorm.weight", [s.Hidden]);
            yield return (p + "mlp.gate_proj.weight", [s.Intermediate, s.Hidden]);
            yield return (p + "mlp.up_proj.weight", [s.Intermediate, s.Hidden]);
            yield return (p + "mlp.down_proj.weight", [s.Hidden, s.Intermediate]);
        }
        yield return ("model.norm.weight", [s.Hidden]);
        yield return ("lm_head.weight", [s.Vocab, s.Hidden]);
    }

    /// <summary>Writes one model; expert &gt; 0 adds noise of scale 0.01 on top of the base values.</summary>
    public static void Write(string dir, Shape s, int expert, long shardBytes)
    {
        Directory.CreateDirectory(dir);
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = s.Hidden,
            ["intermediate_size"] = s.Intermediate,
            ["num_hidden_layers"] = s.Layers,
            ["num_attention_heads"] = s.Heads,
            ["num_key_value_heads"] = s.KvHeads,
            ["vocab_size"] = s.Vocab,
            ["max_position_embeddings"] = 2048,
            ["rms_norm_eps"] = 1e-5,
            ["rope_theta"] = 10000.0,
            ["tie_word_embeddings"] = false,
            ["torch_dtype"] = "bfloat16",
            ["hidden_act"] = "silu",
        };
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        var specs = Tensors(s).Select(t => (t.Name, SafetensorsDType.BF16, t.Shape)).ToList();
        using var w = new ShardedModelWriter(dir, specs, shardBytes);
        var tensors = Tensors(s).ToList();
        // Each tensor draws from its own seeded streams, so the values do not depend on how the tensors are spread
        // over the cores (two at a time: a 7B tensor's buffer is 117 MB).
        Parallel.For(0, tensors.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Min(2, Environment.ProcessorCount) }, index =>
        {
            var (name, shape) = tensors[index];
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var baseRng = new Random(1000 + index);
            var expRng = new Random(expert * 100_003 + index);
            bool norm = shape.Length == 1;
            var buf = new byte[n * 2];
            for (long i = 0; i < n; i++)
            {
                float v = norm ? 1f : (float)(baseRng.NextDouble() * 2 - 1) * 0.05f;
                if (expert > 0)
                    v += (float)(expRng.NextDouble() * 2 - 1) * 0.01f;
                ushort b = (ushort)((BitConverter.SingleToUInt32Bits(v) + 0x7FFF + ((BitConverter.SingleToUInt32Bits(v) >> 16) & 1)) >> 16);
                buf[2 * i] = (byte)b;
                buf[2 * i + 1] = (byte)(b >> 8);
            }
            w.Write(name, buf);
        });
        w.Complete();
    }
}
