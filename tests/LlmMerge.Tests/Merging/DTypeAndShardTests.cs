using System.Text.Json;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class DTypeAndShardTests
{
    [Test]
    public void Bf16ShardedInputsMergeIntoShardedBf16OutputWithIndexAndConfig()
    {
        using var d = new TempDir();
        // Inputs split into several files with an index, as Hub checkpoints are.
        Fixtures.Model(1, dtype: SafetensorsDType.BF16).Write(d["base"], shardBytes: 100);
        Fixtures.Model(2, dtype: SafetensorsDType.BF16).Write(d["a"], shardBytes: 100);
        Assert.That(File.Exists(Path.Combine(d["a"], "model.safetensors.index.json")));
        File.WriteAllText(Path.Combine(d["base"], "tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
        File.WriteAllText(d["r.yml"], """
            merge_method: task_arithmetic
            base_model: base
            dtype: float32
            out_dtype: bfloat16
            models:
              - model: a
                parameters: {weight: 0.5}
            """);
        var (exit, _, err) = CliRunner.Run("merge", d["r.yml"], d["out"], "--out-shard-size", "200", "--quiet");
        Assert.That(exit, Is.EqualTo(0), err);

        string o = d["out"];
        var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(o, "model.safetensors.index.json"))).RootElement;
        var weightMap = index.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        Assert.That(weightMap.Keys, Is.EquivalentTo(Fixtures.Names(2)));
        var shards = weightMap.Values.Distinct().Order().ToList();
        Assert.That(shards.Count, Is.GreaterThan(1));
        Assert.That(shards[0], Does.Match(@"^model-00001-of-\d{5}\.safetensors$"));
        long total = 0;
        foreach (var s in shards)
        {
            using var f = SafetensorsFile.Open(Path.Combine(o, s));
            total += f.Tensors.Sum(t => t.ByteLength);
            Assert.That(f.Header.Metadata["format"], Is.EqualTo("pt"));
            Assert.That(f.Tensors.All(t => t.DType == SafetensorsDType.BF16));
        }
        Assert.That(index.GetProperty("metadata").GetProperty("total_size").GetInt64(), Is.EqualTo(total));

        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(o, "config.json"))).RootElement;
        Assert.That(config.GetProperty("torch_dtype").GetString(), Is.EqualTo("bfloat16"));
        Assert.That(config.GetProperty("num_hidden_layers").GetInt32(), Is.EqualTo(2));
        Assert.That(File.ReadAllText(Path.Combine(o, "tokenizer_config.json")), Does.Contain("<s>"));
        string card = File.ReadAllText(Path.Combine(o, "README.md"));
        Assert.That(card, Does.Contain("merge_method: task_arithmetic").And.Contain("Task Arithmetic").And.Contain("base"));

        foreach (var name in Fixtures.Names(2))
        {
            var b = ModelReader.Read(d["base"], name);
            var a = ModelReader.Read(d["a"], name);
            var expected = b.Select((x, i) => Bf16.Round(x + 0.5f * (a[i] - x))).ToArray();
            Assert.That(ModelReader.Read(o, name), Is.EqualTo(expected), name);
        }
    }

    [Test]
    public void WithoutDtypeTheComputationRunsInTheStoredDtype()
    {
        // mergekit leaves tensors in their stored dtype when the recipe names none: bf16 in, bf16 math, bf16 out.
        using var d = new TempDir();
        Fixtures.Model(1, dtype: SafetensorsDType.BF16).Write(d["x"]);
        Fixtures.Model(2, dtype: SafetensorsDType.BF16).Write(d["y"]);
        File.WriteAllText(d["r.yml"], "merge_method: linear\nmodels:\n  - model: x\n    parameters: {weight: 1}\n  - model: y\n    parameters: {weight: 1}\n");
        var (exit, _, err) = CliRunner.Run("merge", d["r.yml"], d["out"], "--quiet");
        Assert.That(exit, Is.EqualTo(0), err);
        Assert.That(ModelReader.Info(d["out"], "lm_head.weight").DType, Is.EqualTo(SafetensorsDType.BF16));
        var x = ModelReader.Read(d["x"], "lm_head.weight");
        var y = ModelReader.Read(d["y"], "lm_head.weight");
        var expected = x.Select((v, i) => Bf16.Round(Bf16.Round(v + y[i]) / 2)).ToArray();
        Assert.That(ModelReader.Read(d["out"], "lm_head.weight"), Is.EqualTo(expected));
    }
}
