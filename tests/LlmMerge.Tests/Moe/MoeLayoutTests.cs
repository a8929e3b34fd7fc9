using System.Text.Json.Nodes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling;
using LlmMerge.Tests.Support;
using static TorchSharp.torch;

namespace LlmMerge.Tests.Moe;

/// <summary>
/// What <c>llmmerge moe</c> writes, tensor by tensor and key by key, against what mergekit-moe's mixtral.py and qwen.py
/// write (a6e40288): the base's attention, norms, embeddings and head; each expert's MLPs under the output's names;
/// the routers; noise and residual scale; the config fields; the tokenizer, the card and the recipe.
/// </summary>
public class MoeLayoutTests
{
    private static readonly string[] Prompts0 = ["Question: Is the sky blue?"];
    private static readonly string[] Prompts1 = ["A summary is"];
    private static readonly string[] Prompts2 = ["The cat sat on the mat."];
    private static readonly string[] Prompts3 = ["None of the above choices ."];

    private static JsonObject Config(string dir) => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;

    private static float[] W(TinyDecoder model, string name) => model.Weights[name].Values;

    private static void Build(MoeZoo zoo, string recipe, params string[] extra)
    {
        var (exit, stdout, err) = CliRunner.Run(["moe", zoo.Recipe(recipe), zoo.OutDir, "--quiet", .. extra]);
        Assert.That(exit, Is.Zero, err);
        Assert.That(stdout, Does.Contain("built a"));
    }

    [Test]
    public void MixtralHasTheBasesAttentionEachExpertsMlpsAsW1W2W3AndTheRouters()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 2 }, 3);
        string recipe = "base_model: base\ngate_mode: hidden\ndtype: float32\nexperts_per_token: 1\nexperts:\n"
            + MoeZoo.ExpertEntry(0, Prompts0) + MoeZoo.ExpertEntry(1, Prompts1, extra: "residual_scale: 0.5") + MoeZoo.ExpertEntry(2, Prompts2);
        Build(zoo, recipe);
        string o = zoo.OutDir;

        var expected = new List<string> { "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight" };
        for (int i = 0; i < 2; i++)
        {
            string p = $"model.layers.{i}.";
            expected.AddRange(new[] { "input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm" }.Select(w => p + w + ".weight"));
            expected.Add(p + "block_sparse_moe.gate.weight");
            for (int e = 0; e < 3; e++)
                expected.AddRange(new[] { "w1", "w2", "w3" }.Select(w => $"{p}block_sparse_moe.experts.{e}.{w}.weight"));
        }
        using (var folder = LlmMerge.Core.Models.ModelFolder.Open(o))
            Assert.That(folder.TensorNames, Is.EquivalentTo(expected));

        foreach (var name in expected.Where(n => !n.Contains("block_sparse_moe", StringComparison.Ordinal)))
            Assert.That(ModelReader.Read(o, name), Is.EqualTo(W(zoo.Base, name)), name);
        for (int i = 0; i < 2; i++)
        {
            for (int e = 0; e < 3; e++)
            {
                string src = $"model.layers.{i}.mlp.", dst = $"model.layers.{i}.block_sparse_moe.experts.{e}.";
                Assert.That(ModelReader.Read(o, dst + "w1.weight"), Is.EqualTo(W(zoo.Experts[e], src + "gate_proj.weight")), $"layer {i} expert {e} w1");
                Assert.That(ModelReader.Read(o, dst + "w3.weight"), Is.EqualTo(W(zoo.Experts[e], src + "up_proj.weight")), $"layer {i} expert {e} w3");
                // residual_scale multiplies the residual projection only (noise_and_scale, is_residual = down_proj).
                float scale = e == 1 ? 0.5f : 1f;
                Assert.That(ModelReader.Read(o, dst + "w2.weight"), Is.EqualTo(W(zoo.Experts[e], src + "down_proj.weight").Select(v => v * scale).ToArray()), $"layer {i} expert {e} w2");
            }
        }

        var c = Config(o);
        Assert.That(c["architectures"]![0]!.GetValue<string>(), Is.EqualTo("MixtralForCausalLM"));
        Assert.That(c["model_type"]!.GetValue<string>(), Is.EqualTo("mixtral"));
        Assert.That(c["num_local_experts"]!.GetValue<int>(), Is.EqualTo(3));
        Assert.That(c["num_experts_per_tok"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(c["intermediate_size"]!.GetValue<int>(), Is.EqualTo(zoo.Base.Shape.Intermediate));
        Assert.That(c.ContainsKey("sliding_window") && c["sliding_window"] is null, Is.True);
        Assert.That(c["torch_dtype"]!.GetValue<string>(), Is.EqualTo("float32"));
        Assert.That(c["rope_theta"]!.GetValue<double>(), Is.EqualTo(zoo.Base.Shape.Theta), "the base's value, not Mixtral's default 1e6");

        Assert.That(File.Exists(Path.Combine(o, "tokenizer.json")), Is.True);
        Assert.That(File.ReadAllText(Path.Combine(o, "mergekit_moe_config.yml")), Is.EqualTo(recipe));
        Assert.That(File.ReadAllText(Path.Combine(o, "README.md")), Does.Contain("MixtralForCausalLM").And.Contain(recipe.TrimEnd()));
        using var model = CausalLmLoader.Load(o);
        Assert.That(model.ScoreContinuations([1, 2, 3], [[4], [5, 6]]).All(s => double.IsFinite(s.LogLikelihood)), Is.True);
    }

    [Test]
    public void NoiseIsDrawnFromTheSeededGeneratorInMergekitsWriteOrderInTheStoredDType()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 1 }, 3, SafetensorsDType.BF16);
        string recipe = "base_model: base\ngate_mode: hidden\nexperts:\n"
            + MoeZoo.ExpertEntry(0, Prompts0) + MoeZoo.ExpertEntry(1, Prompts1, extra: "noise_scale: 0.01") + MoeZoo.ExpertEntry(2, Prompts2);
        Build(zoo, recipe, "--random-seed", "3");
        // Expert 1's tensors are the first noisy ones: gate_proj (w1), then down_proj (w2), then up_proj (w3), in
        // bfloat16 as stored: t + randn_like(t) * noise_scale.
        using var generator = new Generator(3, CPU);
        foreach (var (from, to) in new[] { ("gate_proj", "w1"), ("down_proj", "w2"), ("up_proj", "w3") })
        {
            string src = $"model.layers.0.mlp.{from}.weight";
            var (shape, values) = zoo.Experts[1].Weights[src];
            using var scope = NewDisposeScope();
            var stored = tensor(values.Select(Bf16.Round).ToArray(), shape, ScalarType.BFloat16);
            var expected = (stored + randn(shape, ScalarType.BFloat16, CPU, generator: generator) * 0.01).to(ScalarType.Float32).data<float>().ToArray();
            Assert.That(ModelReader.Read(zoo.OutDir, $"model.layers.0.block_sparse_moe.experts.1.{to}.weight"), Is.EqualTo(expected), to);
        }
        Assert.That(ModelReader.Read(zoo.OutDir, "model.layers.0.block_sparse_moe.experts.0.w1.weight"), Is.EqualTo(W(zoo.Experts[0], "model.layers.0.mlp.gate_proj.weight").Select(Bf16.Round).ToArray()), "no noise without noise_scale");
        Assert.That(ModelReader.Info(zoo.OutDir, "model.layers.0.block_sparse_moe.experts.1.w1.weight").DType, Is.EqualTo(SafetensorsDType.BF16), "the base's torch_dtype");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void QwenMoeHasTheSharedExpertAndItsGateAndZeroQkvBiasesForALlamaBase(bool explicitArchitecture)
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 2 }, 4);
        string recipe = $"base_model: base\ngate_mode: random\ndtype: float32\n{(explicitArchitecture ? "architecture: qwen\n" : "")}experts:\n"
            + MoeZoo.ExpertEntry(0, Prompts0) + MoeZoo.ExpertEntry(1, Prompts1) + MoeZoo.ExpertEntry(2, Prompts2)
            + "shared_experts:\n" + MoeZoo.ExpertEntry(3, Prompts3, extra: "residual_scale: 0.25");
        Build(zoo, recipe, "--random-seed", "5");
        string o = zoo.OutDir;
        var s = zoo.Base.Shape;
        for (int i = 0; i < 2; i++)
        {
            string p = $"model.layers.{i}.";
            foreach (var proj in new[] { "gate_proj", "up_proj", "down_proj" })
            {
                for (int e = 0; e < 3; e++)
                    Assert.That(ModelReader.Read(o, $"{p}mlp.experts.{e}.{proj}.weight"), Is.EqualTo(W(zoo.Experts[e], $"{p}mlp.{proj}.weight")), $"{p} expert {e} {proj}");
                float scale = proj == "down_proj" ? 0.25f : 1f;
                Assert.That(ModelReader.Read(o, $"{p}mlp.shared_expert.{proj}.weight"), Is.EqualTo(W(zoo.Experts[3], $"{p}mlp.{proj}.weight").Select(v => v * scale).ToArray()), $"{p} shared {proj}");
            }
            // Qwen2-MoE has q/k/v biases; a Llama base has none, so they are zeros of heads x (hidden / heads).
            Assert.That(ModelReader.Read(o, $"{p}self_attn.q_proj.bias"), Is.EqualTo(new float[s.Heads * (s.Hidden / s.Heads)]));
            Assert.That(ModelReader.Read(o, $"{p}self_attn.k_proj.bias"), Is.EqualTo(new float[s.KvHeads * (s.Hidden / s.Heads)]));
            Assert.That(ModelReader.Info(o, $"{p}mlp.shared_expert_gate.weight").Shape, Is.EqualTo(new long[] { 1, s.Hidden }));
        }
        // gate_mode random draws [layers, experts + shared, hidden]; the shared expert's row is the last.
        using var generator = new Generator(5, CPU);
        var gates = randn([2, 4, s.Hidden], ScalarType.Float32, CPU, generator: generator);
        for (int i = 0; i < 2; i++)
        {
            Assert.That(ModelReader.Read(o, $"model.layers.{i}.mlp.gate.weight"), Is.EqualTo(gates[i].narrow(0, 0, 3).contiguous().data<float>().ToArray()));
            Assert.That(ModelReader.Read(o, $"model.layers.{i}.mlp.shared_expert_gate.weight"), Is.EqualTo(gates[i][3].data<float>().ToArray()));
        }

        var c = Config(o);
        Assert.That(c["architectures"]![0]!.GetValue<string>(), Is.EqualTo("Qwen2MoeForCausalLM"));
        Assert.That(c["model_type"]!.GetValue<string>(), Is.EqualTo("qwen2_moe"));
        Assert.That(c["num_experts"]!.GetValue<int>(), Is.EqualTo(3));
        Assert.That(c["num_experts_per_tok"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(c["decoder_sparse_step"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(c["norm_topk_prob"]!.GetValue<bool>(), Is.True);
        Assert.That(c["use_sliding_window"]!.GetValue<bool>(), Is.False);
        Assert.That(c["moe_intermediate_size"]!.GetValue<int>(), Is.EqualTo(s.Intermediate));
        Assert.That(c["shared_expert_intermediate_size"]!.GetValue<int>(), Is.EqualTo(s.Intermediate));
        using var model = CausalLmLoader.Load(o);
        Assert.That(model.ScoreContinuations([1, 2, 3], [[4], [5, 6]]).All(x => double.IsFinite(x.LogLikelihood)), Is.True);
    }

    [Test]
    public void ShardsAndTheOutputDTypeFollowTheOptions()
    {
        using var zoo = MoeZoo.Create(new TinyDecoderShape { Layers = 2 }, 2);
        string recipe = "base_model: base\ngate_mode: random\ndtype: bfloat16\nexperts:\n" + MoeZoo.ExpertEntry(0, Prompts0) + MoeZoo.ExpertEntry(1, Prompts1);
        Build(zoo, recipe, "--out-shard-size", "20K");
        Assert.That(File.Exists(Path.Combine(zoo.OutDir, "model.safetensors.index.json")), Is.True);
        Assert.That(ModelReader.Info(zoo.OutDir, "model.layers.1.block_sparse_moe.experts.1.w2.weight").DType, Is.EqualTo(SafetensorsDType.BF16));
        Assert.That(ModelReader.Read(zoo.OutDir, "model.layers.1.block_sparse_moe.experts.1.w2.weight"), Is.EqualTo(W(zoo.Experts[1], "model.layers.1.mlp.down_proj.weight").Select(Bf16.Round).ToArray()));
    }
}
