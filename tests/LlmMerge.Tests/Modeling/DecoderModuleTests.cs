using LlmMerge.Core.Models;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Torch;
using LlmMerge.Tests.Support;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Modeling;

/// <summary>The module tree keeps Hugging Face's names and stays trainable.</summary>
public class DecoderModuleTests
{
    [TestCase("LlamaForCausalLM", "lm_head.weight")]
    [TestCase("Qwen2ForCausalLM", "model.layers.1.self_attn.k_proj.bias")]
    [TestCase("Phi3ForCausalLM", "model.layers.1.mlp.gate_up_proj.weight")]
    public void ParameterNamesAreTheCheckpointsTensorNames(string architecture, string oneOfThem)
    {
        var shape = architecture switch
        {
            "Qwen2ForCausalLM" => ForwardPassTests.Qwen2Shape(),
            "Phi3ForCausalLM" => ForwardPassTests.LlamaShape() with { Architecture = architecture, ModelType = "phi3" },
            _ => ForwardPassTests.LlamaShape(),
        };
        var tiny = new TinyDecoder(shape, seed: 1);
        var checkpoint = shape.IsPhi3 ? tiny.Fused() : tiny.Weights;
        using var dir = new TempDir();
        using var model = CausalLmLoader.LoadModel(tiny.Write(dir["model"]));
        var names = model.Model.NamedParametersForSaving().Select(p => p.Name).ToList();
        Assert.That(names, Is.EquivalentTo(checkpoint.Keys));
        Assert.That(names[0], Is.EqualTo("model.embed_tokens.weight"));
        foreach (var (name, t) in model.Model.NamedParametersForSaving())
            Assert.That(t.shape, Is.EqualTo(checkpoint[name].Shape), name);
        Assert.That(names, Does.Contain(oneOfThem));
    }

    [Test]
    public void AFreshModelTrainsWithAutograd()
    {
        TorchRuntime.Initialize();
        var config = CausalLmArchitectures.ReadConfig(new ModelConfig(new TinyDecoder(ForwardPassTests.LlamaShape(), 1).Config()));
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(seed: 42);
        model.train();
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
        var ids = tensor(new long[] { 1, 5, 9, 13, 17, 21, 25, 29, 33, 37 }).view(1, -1);
        double first = 0, last = 0;
        for (int step = 0; step < 30; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var logits = model.forward(ids.narrow(1, 0, 9));
            var loss = nn.functional.cross_entropy(logits.view(-1, config.VocabSize), ids.narrow(1, 1, 9).reshape(-1));
            loss.backward();
            if (step == 0)
            {
                foreach (var (name, p) in model.named_parameters())
                    Assert.That(p.grad is not null && p.grad.abs().sum().item<float>() > 0, Is.True, $"{name} has no gradient");
            }
            optimizer.step();
            (step == 0 ? ref first : ref last) = loss.item<float>();
        }
        Assert.That(last, Is.LessThan(first * 0.5), "a tiny model memorises one sequence");
        ids.Dispose();
    }

    [TestCase("LlamaForCausalLM")]
    [TestCase("Qwen2ForCausalLM")]
    [TestCase("MistralForCausalLM")]
    [TestCase("GemmaForCausalLM")]
    [TestCase("Phi3ForCausalLM")]
    public void ASavedModelLoadsBackWithTheSameShapeAndLogits(string architecture)
    {
        TorchRuntime.Initialize();
        var shape = architecture switch
        {
            "Qwen2ForCausalLM" => ForwardPassTests.Qwen2Shape(),
            "MistralForCausalLM" => ForwardPassTests.LlamaShape() with { Architecture = architecture, ModelType = "mistral", RopeScaling = null, SlidingWindow = 4 },
            "GemmaForCausalLM" => ForwardPassTests.LlamaShape() with { Architecture = architecture, ModelType = "gemma", RopeScaling = null, Tied = true },
            "Phi3ForCausalLM" => ForwardPassTests.LlamaShape() with { Architecture = architecture, ModelType = "phi3", RopeScaling = null, SlidingWindow = 4 },
            _ => ForwardPassTests.LlamaShape(),
        };
        var config = CausalLmArchitectures.ReadConfig(new ModelConfig(new TinyDecoder(shape, 1).Config()));
        using var dir = new TempDir();
        using var model = CausalLmArchitectures.Create(config, CPU, ScalarType.Float32);
        model.InitializeWeights(seed: 3);
        CausalLmWeights.Save(model, dir["saved"]);

        using var loaded = CausalLmLoader.LoadModel(dir["saved"]);
        Assert.That(loaded.Model.Config with { SlidingLayers = [] }, Is.EqualTo(config with { SlidingLayers = [] }));
        Assert.That(loaded.Model.Config.SlidingLayers, Is.EqualTo(config.SlidingLayers));
        Assert.That(File.Exists(dir["saved/model.safetensors"]), Is.True);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 3, 1, 4, 1, 5, 9, 2, 6 }).view(1, -1);
        Assert.That(loaded.Model.forward(ids).allclose(model.forward(ids), rtol: 0, atol: 0), Is.True);
    }
}
