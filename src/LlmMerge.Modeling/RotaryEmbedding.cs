using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// Rotary position embeddings as transformers applies them: frequencies theta^(-2i/d) (rescaled by
/// <c>rope_scaling</c>), each head's vector split in halves that rotate together (<c>rotate_half</c>).
/// </summary>
public static class RotaryEmbedding
{
    /// <summary>The d/2 inverse frequencies, after linear or llama3 rescaling.</summary>
    public static double[] InverseFrequencies(CausalLmConfig config)
    {
        int half = config.HeadDim / 2;
        var inv = new double[half];
        for (int i = 0; i < half; i++)
            inv[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / config.HeadDim);
        var s = config.RopeScaling;
        if (s is null)
            return inv;
        if (s.Type == "linear")
            return inv.Select(f => f / s.Factor).ToArray();

        // llama3: long wavelengths are divided by the factor, short ones kept, and the band between blended
        // (transformers' _compute_llama3_parameters).
        double lowFreqWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highFreqWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        for (int i = 0; i < half; i++)
        {
            double f = inv[i];
            double wavelen = 2 * Math.PI / f;
            double scaled = wavelen > lowFreqWavelen ? f / s.Factor : f;
            if (!(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen))
            {
                double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                scaled = (1 - smooth) * scaled / s.Factor + smooth * scaled;
            }
            inv[i] = scaled;
        }
        return inv;
    }

    /// <summary>cos and sin for positions start..start+length-1, shaped [1, 1, length, head_dim] in <paramref name="dtype"/>.</summary>
    public static (Tensor Cos, Tensor Sin) CosSin(float[] inverseFrequencies, long start, long length, Device device, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        // Angles in float32, as transformers computes them, so long positions round the same way.
        var positions = arange(start, start + length, ScalarType.Float32, device);
        var inv = tensor(inverseFrequencies, device: device);
        var freqs = outer(positions, inv);
        var emb = cat([freqs, freqs], -1);
        var cos = emb.cos().to(dtype).view(1, 1, length, -1);
        var sin = emb.sin().to(dtype).view(1, 1, length, -1);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>cos and sin for each row's own <paramref name="positions"/> (float32 [batch, length]), shaped [batch, 1, length, head_dim].</summary>
    public static (Tensor Cos, Tensor Sin) CosSin(float[] inverseFrequencies, Tensor positions, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(positions);
        using var scope = NewDisposeScope();
        var inv = tensor(inverseFrequencies, device: positions.device);
        // The same float32 products as outer(positions, inv) does for one row.
        var freqs = positions.unsqueeze(-1) * inv.view(1, 1, -1);
        var emb = cat([freqs, freqs], -1);
        var cos = emb.cos().to(dtype).unsqueeze(1);
        var sin = emb.sin().to(dtype).unsqueeze(1);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>x·cos + rotate_half(x)·sin for x of shape [batch, heads, seq, head_dim].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = cat([x2.neg(), x1], -1);
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }
}
