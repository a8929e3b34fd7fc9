namespace LlmMerge.Hub.Tests;

/// <summary>The default selection (what a merge needs) and fnmatch include/exclude globs, as huggingface_hub's patterns.</summary>
public sealed class FileSelectionTests
{
    private static readonly string[] ModelWithSafetensors =
    [
        ".gitattributes", "README.md", "config.json", "generation_config.json", "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "model.gguf", "tf_model.h5",
        "flax_model.msgpack", "onnx/model.onnx", "rust_model.ot", "tokenizer.json", "tokenizer_config.json", "tokenizer.model",
        "merges.txt", "vocab.txt", "chat_template.jinja", "tiktoken.tiktoken", "training_args.pt", "original/consolidated.pth",
    ];

    [Test]
    public void Default_TakesSafetensorsJsonAndTokenizerFiles_AndSkipsOtherWeights()
    {
        IReadOnlyList<string> selected = FileSelection.Select(ModelWithSafetensors, new FetchRequest("o/n"));

        Assert.That(selected, Is.EqualTo(new[]
        {
            "README.md", "config.json", "generation_config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
            "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "merges.txt", "vocab.txt",
            "chat_template.jinja", "tiktoken.tiktoken",
        }));
    }

    [Test]
    public void Default_WithoutSafetensors_FallsBackToPyTorchWeights()
    {
        string[] files =
        [
            "config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json",
            "model.gguf", "tf_model.h5", "optimizer.pt", "rng_state.pth", "tokenizer.json",
        ];

        Assert.That(FileSelection.Select(files, new FetchRequest("o/n")), Is.EqualTo(new[]
        {
            "config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json", "tokenizer.json",
        }));
    }

    [Test]
    public void Default_ForAnAdapterWithoutSafetensors_TakesAdapterModelBin()
    {
        string[] files = ["README.md", "adapter_config.json", "adapter_model.bin"];

        Assert.That(FileSelection.Select(files, new FetchRequest("o/n")), Is.EqualTo(files));
    }

    [Test]
    public void Default_ForADataset_TakesEverything()
    {
        string[] files = ["README.md", "data/train.parquet", "data/test.csv"];

        Assert.That(FileSelection.Select(files, new FetchRequest("o/n") { RepoType = RepoType.Dataset }), Is.EqualTo(files));
    }

    [Test]
    public void Include_ReplacesTheDefault_AndExcludeRemoves()
    {
        var request = new FetchRequest("o/n") { Include = ["*.gguf", "onnx/"], Exclude = ["*.onnx_data"] };
        string[] files = ["config.json", "model.gguf", "onnx/model.onnx", "onnx/model.onnx_data"];

        Assert.That(FileSelection.Select(files, request), Is.EqualTo(new[] { "model.gguf", "onnx/model.onnx" }));
    }

    [Test]
    public void Exclude_Alone_NarrowsTheDefault()
    {
        var request = new FetchRequest("o/n") { Exclude = ["README.md", "*.txt"] };

        Assert.That(FileSelection.Select(["README.md", "config.json", "merges.txt", "model.safetensors"], request), Is.EqualTo(new[] { "config.json", "model.safetensors" }));
    }

    [TestCase("sub/config.json", "*.json", true)]
    [TestCase("config.json", "config.jso?", true)]
    [TestCase("config.json", "Config.json", false)]
    [TestCase("model-00001.safetensors", "model-0000[0-9].safetensors", true)]
    [TestCase("model-0000a.safetensors", "model-0000[!0-9].safetensors", true)]
    [TestCase("model-00001.safetensors", "model-0000[!0-9].safetensors", false)]
    [TestCase("a[b", "a[b", true)]
    [TestCase("a.b", "a.b", true)]
    [TestCase("axb", "a.b", false)]
    [TestCase("(x)+", "(x)+", true)]
    [TestCase("a]", "[]]", false)]
    [TestCase("]", "[]]", true)]
    [TestCase("anything/at/all", "*", true)]
    [TestCase("config.json\n", "config.json", false)]
    public void Fnmatch_FollowsPython(string name, string pattern, bool expected)
    {
        Assert.That(Fnmatch.IsMatch(name, pattern), Is.EqualTo(expected));
    }
}
