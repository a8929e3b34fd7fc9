using System.Diagnostics;
using LlmMerge.Core;
using LlmMerge.Core.IO;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Execution;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Moe;

/// <summary>
/// Builds a mixture of experts from dense models as mergekit-moe's build() does (mergekit/scripts/moe.py at
/// a6e40288): checks the recipe, picks the output architecture, computes the gate vectors from the base, then streams
/// every output tensor (base attention and norms, each expert's MLPs, the routers) one at a time into shards in a
/// hidden folder that is renamed into place with config.json, the base's tokenizer, a model card and the recipe.
/// Any error comes before the first byte is written, or leaves the output as it was.
/// </summary>
public sealed class MoeBuilder(ModelResolver models, MoeOptions options)
{
    public MoeResult Run(MoeRecipe recipe, string outDir, IProgress<MergeProgress>? progress = null, Action<string>? warn = null)
    {
        TorchRuntime.Initialize();
        var device = TorchRuntime.ResolveDevice(options.Device);
        MoeRecipeChecks.Check(recipe, options.AllowAllSame);
        var inputs = MoeInputs.Open(recipe, models);
        var output = MoeOutputs.Select(inputs);
        inputs.CheckShapes();
        if (recipe.Experts.Count is var n && (n & (n - 1)) != 0)
            warn?.Invoke($"the mixture has {n} experts, not a power of two; llama.cpp will not load it (as mergekit warns)");
        var outDType = OutputDType(recipe, inputs);

        // mergekit gates the shared experts too when they have prompts, or when the gates are random.
        var gated = recipe.Experts.Select(e => (e, false)).ToList();
        var shared = recipe.SharedExperts ?? [];
        if (shared.Count > 0 && (shared.Any(s => s.PositivePrompts is { Count: > 0 }) || recipe.GateMode is "random" or "uniform_random"))
            gated.AddRange(shared.Select(s => (s, true)));

        var clock = Stopwatch.StartNew();
        using var generator = new Generator(options.RandomSeed, CPU);
        using var gates = GateVectors.Compute(inputs, gated, generator, device);
        var gateTime = clock.Elapsed;
        if (GateVectors.Degenerate(gates) is { } degenerate)
            warn?.Invoke(degenerate);

        var reader = new MoeTensorReader(generator, outDType);
        var tensors = output.Tensors(inputs, reader, gates).ToList();
        using var folder = new OutputFolder(outDir);
        long written = 0;
        clock.Restart();
        using (var writer = new ShardedModelWriter(folder.WorkPath, tensors.Select(t => (t.Name, t.DType, t.Shape)).ToList(), options.OutShardBytes))
        {
            long planned = writer.TotalBytes;
            for (int i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                using var scope = NewDisposeScope();
                var value = t.Compute();
                if (!value.shape.AsSpan().SequenceEqual(t.Shape))
                    throw new InvalidOperationException($"moe: tensor '{t.Name}' came out [{string.Join(", ", value.shape)}], planned [{string.Join(", ", t.Shape)}]");
                TensorBridge.Store(value, t.DType.ToScalarType(), (offset, bytes) => writer.Write(t.Name, bytes, offset));
                progress?.Report(new MergeProgress(i + 1, tensors.Count, reader.BytesRead, planned, clock.Elapsed, t.Name));
            }
            writer.Complete();
            written = writer.TotalBytes;
        }

        string dir = folder.WorkPath;
        File.WriteAllText(Path.Combine(dir, "config.json"), new Core.Models.ModelConfig(output.Config(inputs, outDType?.TorchName())).ToJsonString());
        if (options.CopyTokenizer)
        {
            foreach (var f in DiskSink.TokenizerFiles)
            {
                string p = Path.Combine(inputs.Base.Directory, f);
                if (File.Exists(p))
                    File.Copy(p, Path.Combine(dir, f), overwrite: true);
            }
        }
        File.WriteAllText(Path.Combine(dir, "mergekit_moe_config.yml"), recipe.SourceText);
        File.WriteAllText(Path.Combine(dir, "README.md"), MoeModelCard.Render(recipe, output.Architecture, Path.GetFileName(folder.FinalPath)));
        folder.Commit();
        return new MoeResult(output.Architecture, tensors.Count, reader.BytesRead, written, gateTime, clock.Elapsed);
    }

    /// <summary>mergekit's select_dtype: the recipe's dtype, else the base config's torch_dtype, else none (tensors keep theirs).</summary>
    private static SafetensorsDType? OutputDType(MoeRecipe recipe, MoeInputs inputs)
    {
        if (recipe.DType is { } d)
        {
            try { return SafetensorsDTypes.ParseTorchName(d); }
            catch (LlmMergeException) { throw new LlmMergeException($"{recipe.FileName}: dtype '{d}' is unknown; use bfloat16, float16 or float32"); }
        }
        var json = inputs.Base.Config!.Json;
        string? stored = (json["torch_dtype"] ?? json["dtype"]) is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out string? s) ? s : null;
        if (stored is null)
            return null;
        try { return SafetensorsDTypes.ParseTorchName(stored.Replace("torch.", "", StringComparison.Ordinal)); }
        catch (LlmMergeException) { throw new LlmMergeException($"{inputs.Base.Config.Path ?? recipe.BaseModel.ToString()}: torch_dtype '{stored}' is unknown; set dtype in the recipe"); }
    }
}
