using LlmMerge.Modeling.Moe;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// A Llama-family decoder with its language-model head: the module tree and parameter names of transformers'
/// <c>*ForCausalLM</c>, so named_parameters() lists exactly the tensors a Hugging Face checkpoint holds.
/// <c>forward</c> (ids to logits, no cache) keeps autograd intact for training.
/// </summary>
public class DecoderForCausalLM : nn.Module<Tensor, Tensor>
{
    private readonly DecoderModel model;
    // Absent when tie_word_embeddings: the logits reuse model.embed_tokens.weight, and a checkpoint of a tied
    // model holds no lm_head.weight, as transformers saves it.
    private readonly LinearProjection? lm_head;

    protected DecoderForCausalLM(string name, CausalLmConfig config, Device? device, ScalarType dtype)
        : base(name)
    {
        config.Validate(config.Architecture);
        Config = config;
        device ??= CPU;
        model = new DecoderModel(config, device, dtype);
        register_module(nameof(model), model);
        if (!config.TieWordEmbeddings)
        {
            lm_head = new LinearProjection(config.HiddenSize, config.VocabSize, false, device, dtype);
            register_module(nameof(lm_head), lm_head);
        }
        foreach (var (path, module) in named_modules())
        {
            if (module is LinearProjection projection)
                projection.QualifiedName = path;
        }
    }

    public CausalLmConfig Config { get; }

    public DecoderModel Model => model;

    /// <summary>Logits [batch, seq, vocab] for token ids [batch, seq] starting at position 0.</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        return Logits(model.Forward(inputIds)).MoveToOuterDisposeScope();
    }

    /// <summary>Final-normed hidden states, or those entering <paramref name="stopBeforeLayer"/>; see <see cref="DecoderModel.Forward"/>.</summary>
    public Tensor HiddenStates(Tensor inputIds, KeyValueCache? cache, bool store, int? stopBeforeLayer = null, long[]? lengths = null, long[]? cacheRows = null) =>
        model.Forward(inputIds, cache, store, stopBeforeLayer, lengths, cacheRows);

    /// <summary>Logits for final-normed hidden states (only the positions one needs, to spare the vocabulary projection).</summary>
    public Tensor Logits(Tensor hidden) => lm_head is null ? nn.functional.linear(hidden, model.EmbedTokens.Weight) : lm_head.forward(hidden);

    /// <summary>
    /// Reports activations to <paramref name="capture"/> during every forward pass until the returned object is
    /// disposed. One capture at a time; passes without one pay nothing.
    /// </summary>
    public IDisposable Capture(ActivationCapture capture)
    {
        if (model.Capture is not null)
            throw new InvalidOperationException("a capture is already attached to this model");
        var projections = modules().OfType<LinearProjection>().ToList();
        var routers = modules().OfType<SparseMoeBlock>().ToList();
        model.Capture = capture;
        foreach (var p in projections)
            p.Capture = capture;
        foreach (var r in routers)
            r.Capture = capture;
        return new Detach(() =>
        {
            model.Capture = null;
            foreach (var p in projections)
                p.Capture = null;
            foreach (var r in routers)
                r.Capture = null;
        });
    }

    private sealed class Detach(Action undo) : IDisposable
    {
        private Action? _undo = undo;

        public void Dispose()
        {
            _undo?.Invoke();
            _undo = null;
        }
    }

    /// <summary>A cache sized for this model's layers.</summary>
    public KeyValueCache NewCache() => new(Config.NumHiddenLayers);

    /// <summary>Parameters under their Hugging Face names, in checkpoint order, for saving as safetensors.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> NamedParametersForSaving() =>
        named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList();

    /// <summary>
    /// transformers' initialisation for training from scratch: weights normal(0, initializer_range), biases zero,
    /// norms one (Gemma's zero, which scales by one). Seeded, so a run can be repeated.
    /// </summary>
    public void InitializeWeights(long seed)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed, parameters().First().device);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
                p.fill_(Config.NormWeightPlusOne ? 0.0 : 1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
                p.zero_();
            else
                p.normal_(0.0, Config.InitializerRange, generator);
        }
    }
}

/// <summary>Llama 2 and 3 (<c>LlamaForCausalLM</c>), including rope_scaling linear and llama3, attention_bias and mlp_bias.</summary>
public sealed class LlamaForCausalLM(CausalLmConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
    : DecoderForCausalLM(nameof(LlamaForCausalLM), config, device, dtype);

/// <summary>Mistral (<c>MistralForCausalLM</c>): Llama's block without biases, with a sliding attention window when set.</summary>
public sealed class MistralForCausalLM(CausalLmConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
    : DecoderForCausalLM(nameof(MistralForCausalLM), config, device, dtype);

/// <summary>Qwen2 (<c>Qwen2ForCausalLM</c>): biases on q, k and v projections, often tied embeddings.</summary>
public sealed class Qwen2ForCausalLM(CausalLmConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
    : DecoderForCausalLM(nameof(Qwen2ForCausalLM), config, device, dtype);

/// <summary>Gemma (<c>GemmaForCausalLM</c>): embeddings scaled by sqrt(hidden), norms scaled by 1 + weight, GeGLU (tanh gelu), tied embeddings.</summary>
public sealed class GemmaForCausalLM(CausalLmConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
    : DecoderForCausalLM(nameof(GemmaForCausalLM), config, device, dtype);

/// <summary>Phi-3 (<c>Phi3ForCausalLM</c>): Llama's block with fused qkv_proj and gate_up_proj, a sliding window when set.</summary>
public sealed class Phi3ForCausalLM(CausalLmConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32)
    : DecoderForCausalLM(nameof(Phi3ForCausalLM), config, device, dtype);
