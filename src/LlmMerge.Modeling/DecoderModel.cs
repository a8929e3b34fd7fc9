using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>The decoder stack (<c>model</c>): embed_tokens, layers.N, and the final norm.</summary>
public sealed class DecoderModel : nn.Module
{
    private readonly TokenEmbedding embed_tokens;
    private readonly ModuleList<DecoderLayer> layers;
    private readonly RmsNorm norm;
    private readonly CausalLmConfig _config;
    private readonly float[] _inverseFrequencies;

    public DecoderModel(CausalLmConfig c, Device device, ScalarType dtype)
        : base(nameof(DecoderModel))
    {
        _config = c;
        _inverseFrequencies = RotaryEmbedding.InverseFrequencies(c).Select(f => (float)f).ToArray();
        embed_tokens = new TokenEmbedding(c.VocabSize, c.HiddenSize, device, dtype);
        layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(_ => new DecoderLayer(c, device, dtype)).ToArray());
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype, c.NormWeightPlusOne);
        register_module(nameof(embed_tokens), embed_tokens);
        register_module(nameof(layers), layers);
        register_module(nameof(norm), norm);
    }

    public TokenEmbedding EmbedTokens => embed_tokens;

    /// <summary>
    /// Final-normed hidden states [batch, seq, hidden] for token ids [batch, seq] that follow the cache's positions
    /// (position 0 without a cache). <paramref name="store"/> keeps the new keys and values in the cache.
    /// </summary>
    public Tensor Forward(Tensor inputIds, KeyValueCache? cache = null, bool store = true)
    {
        using var scope = NewDisposeScope();
        long past = cache?.Length ?? 0;
        long seq = inputIds.shape[1];
        var h = embed_tokens.forward(inputIds);
        if (_config.ScaleEmbeddings)
            h = h * tensor(Math.Sqrt(_config.HiddenSize), h.dtype, h.device); // rounded to the model's dtype, as transformers does
        var (cos, sin) = RotaryEmbedding.CosSin(_inverseFrequencies, past, seq, h.device, h.dtype);
        using var full = AttentionMask.Build(past, seq, null, h.device);
        using var windowed = _config.SlidingWindow is int w ? AttentionMask.Build(past, seq, w, h.device) : null;
        for (int i = 0; i < layers.Count; i++)
        {
            var mask = _config.UsesSlidingWindow(i) ? windowed! : full;
            h = layers[i].Forward(h, cos, sin, mask, cache, i, store);
        }
        if (cache is not null && store)
            cache.Advance(seq);
        return norm.forward(h).MoveToOuterDisposeScope();
    }
}
