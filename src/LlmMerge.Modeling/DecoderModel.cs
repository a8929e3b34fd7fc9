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
        layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(i => new DecoderLayer(c, device, dtype, i)).ToArray());
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype, c.NormWeightPlusOne);
        register_module(nameof(embed_tokens), embed_tokens);
        register_module(nameof(layers), layers);
        register_module(nameof(norm), norm);
    }

    public TokenEmbedding EmbedTokens => embed_tokens;

    public IReadOnlyList<DecoderLayer> Layers => layers.ToList();

    /// <summary>Set while a caller captures activations (<see cref="DecoderForCausalLM.Capture"/>).</summary>
    internal ActivationCapture? Capture { get; set; }

    /// <summary>
    /// Final-normed hidden states [batch, seq, hidden] for token ids [batch, seq] that follow the cache's positions
    /// (position 0 without a cache). <paramref name="store"/> keeps the new keys and values in the cache. With
    /// <paramref name="stopBeforeLayer"/> the pass ends there and returns the hidden state entering that layer,
    /// unnormed (transformers' <c>hidden_states[stopBeforeLayer]</c>); the cache then holds only earlier layers.
    /// Rows of different lengths: the first pass over a cache is right-padded, each row's tokens in its first
    /// <paramref name="lengths"/>[r] slots (the causal mask keeps the padding after them out of their attention, so the
    /// pass needs no mask of its own), and the cache remembers the lengths; later passes continue each row at its own
    /// position with the padding masked out. A pass that reads a cache of several rows without storing says with
    /// <paramref name="cacheRows"/> which cached row each of its rows continues.
    /// </summary>
    public Tensor Forward(Tensor inputIds, KeyValueCache? cache = null, bool store = true, int? stopBeforeLayer = null,
        long[]? lengths = null, long[]? cacheRows = null)
    {
        using var scope = NewDisposeScope();
        int stop = stopBeforeLayer ?? layers.Count;
        if (stop < 0 || stop > layers.Count)
            throw new ArgumentOutOfRangeException(nameof(stopBeforeLayer), stop, $"the model has {layers.Count} layers");
        long past = cache?.Length ?? 0;
        long seq = inputIds.shape[1];
        var h = embed_tokens.forward(inputIds);
        if (_config.ScaleEmbeddings)
            h = h * tensor(Math.Sqrt(_config.HiddenSize), h.dtype, h.device); // rounded to the model's dtype, as transformers does
        if (lengths is not null && past > 0)
            throw new ArgumentException("row lengths are given on the first pass over a cache; later passes take them from the cache", nameof(lengths));
        long[]? rowLengths = past > 0 && cache?.Lengths is long[] cached ? (cacheRows is null ? cached : cacheRows.Select(r => cached[r]).ToArray()) : null;
        Tensor cos, sin;
        AttentionMask full;
        AttentionMask? windowed;
        if (rowLengths is null)
        {
            (cos, sin) = RotaryEmbedding.CosSin(_inverseFrequencies, past, seq, h.device, h.dtype);
            full = AttentionMask.Build(past, seq, null, h.device);
            windowed = _config.SlidingWindow is int w ? AttentionMask.Build(past, seq, w, h.device) : null;
        }
        else
        {
            // Slot s of row r: before the cache's width a token of the first pass (real below the row's length), after it
            // the row's continuation at position length + (s - width).
            long width = cache!.Width;
            var len = tensor(rowLengths, device: h.device).view(-1, 1);
            var querySlots = arange(past, past + seq, ScalarType.Int64, h.device).view(1, -1);
            var keySlots = arange(0, past + seq, ScalarType.Int64, h.device).view(1, -1);
            var queryPositions = len + (querySlots - width);
            var keyPositions = where(keySlots < width, keySlots.expand(rowLengths.Length, -1), len + (keySlots - width));
            var keyValid = (keySlots < len).logical_or(keySlots >= width);
            (cos, sin) = RotaryEmbedding.CosSin(_inverseFrequencies, queryPositions.to(ScalarType.Float32), h.dtype);
            full = AttentionMask.BuildFromPositions(queryPositions, keyPositions, keyValid, null);
            windowed = _config.SlidingWindow is int w ? AttentionMask.BuildFromPositions(queryPositions, keyPositions, keyValid, w) : null;
        }
        using var fullMask = full;
        using var windowMask = windowed;
        var rows = cacheRows is null ? null : tensor(cacheRows, device: h.device);
        for (int i = 0; i < stop; i++)
        {
            Capture?.LayerInput?.Invoke(i, h);
            var mask = _config.UsesSlidingWindow(i) ? windowed! : full;
            h = layers[i].Forward(new DecoderLayerInput { HiddenStates = h, Cos = cos, Sin = sin, Mask = mask, Cache = cache, LayerIndex = i, Store = store, CacheRows = rows }).HiddenStates;
        }
        if (cache is not null && store)
            cache.Advance(seq, lengths);
        if (stop < layers.Count)
        {
            Capture?.LayerInput?.Invoke(stop, h);
            return h.MoveToOuterDisposeScope();
        }
        return norm.forward(h).MoveToOuterDisposeScope();
    }
}
