using System.Text.Json.Nodes;
using LlmMerge.Build.Tests.Support;
using LlmMerge.TestFixtures;

namespace LlmMerge.Build.Tests;

/// <summary>
/// Experts published as PyTorch .bin (pytorch_model.bin, a LoRA's adapter_model.bin) in a graph: merged and scored as
/// the same weights in safetensors are. The .bin folders are written from the zoo's models by the test itself.
/// </summary>
public sealed class PyTorchBinTests
{
    private static string Graph(string suffix) => $"""
          <ItemGroup>
            <Expert Include="base" Path="../models/base{suffix}" />
            <Expert Include="expert-a" Path="../models/expert-a{suffix}" />
            <Expert Include="expert-b" Path="../models/expert-b{suffix}" />
            <Expert Include="lora" Path="../models/lora{suffix}" Base="base" />
            <MergeStep Include="ties" Method="ties" BaseModel="base" Models="expert-a;expert-b;lora" Density="0.5" Weight="1" />
            <Evaluation Include="held-out" Models="expert-a;ties" Tasks="../tasks/choice.csv" />
          </ItemGroup>
        """;

    [Test]
    public void TwoBinExpertsAndABinLoraAdapter_MergeAndScoreInAGraph_AsTheirSafetensorsDo()
    {
        using var folder = new GraphFolder();
        folder.Write("tasks/choice.csv", "id,input,target,answer_choices,eval_type\n0,Two plus two?,1,\"['three', 'four']\",multiple_choice\n1,Sky?,2,\"['green', 'red', 'blue', 'black']\",multiple_choice\n");
        GraphFolder.CopyFolder(Path.Combine(Repo.ZooDir, "lora-comparison"), Path.Combine(folder.Dir, "models", "lora"));
        foreach (string model in new[] { "base", "expert-a", "expert-b", "lora" })
        {
            TorchSaveWriter.ConvertFolder(Path.Combine(folder.Dir, "models", model), Path.Combine(folder.Dir, "models", model + "-bin"),
                model == "expert-b" ? TorchSaveWriter.Layout.Transposed : TorchSaveWriter.Layout.Separate);
        }
        Assert.That(File.Exists(Path.Combine(folder.Dir, "models", "lora-bin", "adapter_model.bin")), Is.True);
        Assert.That(Directory.GetFiles(Path.Combine(folder.Dir, "models", "expert-a-bin"), "*.safetensors"), Is.Empty);
        // Each graph in a folder of its own, so their obj/ (restore, stamps) stay apart.
        string fromBin = folder.Project("bin/graph", Graph("-bin"));
        string fromSafetensors = folder.Project("safetensors/graph", Graph(""));
        string Artifacts(string project, string file) => Path.Combine(Path.GetDirectoryName(project)!, "artifacts", "graph", file);

        BuildResult bin = folder.Build(fromBin);
        BuildResult safetensors = folder.Build(fromSafetensors);

        Assert.That(bin.ExitCode, Is.Zero, bin.ToString());
        Assert.That(safetensors.ExitCode, Is.Zero, safetensors.ToString());
        Assert.That(bin.StepsRan, Is.EqualTo(new[] { "ties" }));
        Assert.That(bin.Log, Does.Contain("2 evaluation(s) run"));
        Assert.That(File.ReadAllBytes(Artifacts(fromBin, "ties/model.safetensors")), Is.EqualTo(File.ReadAllBytes(Artifacts(fromSafetensors, "ties/model.safetensors"))),
            "the .bin graph's merge is byte for byte the safetensors graph's");
        JsonNode binScores = JsonNode.Parse(File.ReadAllText(Artifacts(fromBin, "results.json")))!["models"]!;
        JsonNode safetensorsScores = JsonNode.Parse(File.ReadAllText(Artifacts(fromSafetensors, "results.json")))!["models"]!;
        foreach (string model in new[] { "expert-a", "ties" })
        {
            Assert.That(binScores[model]!["choice"], Is.Not.Null, model);
            Assert.That(binScores[model]!["choice"]!.GetValue<double>(), Is.EqualTo(safetensorsScores[model]!["choice"]!.GetValue<double>()), model);
        }
    }
}
