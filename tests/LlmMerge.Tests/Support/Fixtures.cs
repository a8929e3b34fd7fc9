using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Tests.Support;

/// <summary>Llama-shaped tiny models with seeded values: embeddings, a few layers, final norm, head.</summary>
public static class Fixtures
{
    public const int Hidden = 4;
    public const int Vocab = 6;

    public static readonly string[] LayerSuffixes = [".self_attn.q_proj.weight", ".mlp.up_proj.weight", ".input_layernorm.weight"];

    public static long[] ShapeOf(string name) => name switch
    {
        _ when name.EndsWith("q_proj.weight", StringComparison.Ordinal) => [Hidden, Hidden],
        _ when name.EndsWith("up_proj.weight", StringComparison.Ordinal) => [3, Hidden],
        _ when name.EndsWith("layernorm.weight", StringComparison.Ordinal) || name == "model.norm.weight" => [Hidden],
        _ => [Vocab, Hidden],
    };

    public static IEnumerable<string> Names(int layers)
    {
        yield return "model.embed_tokens.weight";
        for (int i = 0; i < layers; i++)
        {
            foreach (var s in LayerSuffixes)
                yield return $"model.layers.{i}{s}";
        }
        yield return "model.norm.weight";
        yield return "lm_head.weight";
    }

    public static float[] Values(int seed, long count, double scale = 1.0)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, (int)count).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    /// <summary>A model whose tensors are seeded from <paramref name="seed"/> and the tensor's position.</summary>
    public static TinyModel Model(int seed, int layers = 2, SafetensorsDType dtype = SafetensorsDType.F32, int vocab = Vocab)
    {
        var m = new TinyModel().Layers(layers);
        int i = 0;
        foreach (var name in Names(layers))
        {
            var shape = ShapeOf(name);
            if (shape[0] == Vocab && shape.Length == 2)
                shape = [vocab, Hidden];
            var values = Values(seed * 1000 + i++, shape.Aggregate(1L, (a, b) => a * b));
            if (dtype == SafetensorsDType.BF16)
                values = values.Select(Bf16.Round).ToArray();
            m.Add(name, shape, values, dtype);
        }
        return m;
    }
}
