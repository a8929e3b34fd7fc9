using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using LlmMerge.Core.IO;
using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Engine.Methods;
using LlmMerge.Modeling.Sources;
using LlmMerge.Modeling.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Execution;

/// <summary>
/// Runs a <see cref="MergePlan"/> tensor by tensor: each input tensor is read from its memory map, merged,
/// cast and written at its planned offset, and every libtorch tensor of that step is freed before the next, so
/// peak memory is a few tensors whatever the model's size.
/// </summary>
public sealed class MergeExecutor
{
    /// <summary>Tokenizer and generation files copied from the tokenizer source.</summary>
    public static readonly string[] TokenizerFiles =
    [
        "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "added_tokens.json",
        "vocab.json", "merges.txt", "generation_config.json", "chat_template.json", "chat_template.jinja",
    ];

    private readonly ModelResolver _models;
    private readonly MergeOptions _options;

    public MergeExecutor(ModelResolver models, MergeOptions options)
    {
        _models = models;
        _options = options;
    }

    /// <summary>Plans and runs a recipe into <paramref name="outDir"/>, which appears whole or not at all.</summary>
    public MergePlan Run(MergeRecipe recipe, string outDir, IProgress<MergeProgress>? progress = null, Action<string>? warn = null)
    {
        TorchRuntime.Initialize();
        var device = TorchRuntime.ResolveDevice(_options.Device);
        var plan = new MergePlanner(_models.Source).Plan(recipe);
        foreach (var w in plan.Warnings)
            warn?.Invoke(w);
        // Resolved before any tensor is written, so a bad chat_template fails fast.
        string? chatTemplate = ChatTemplate(plan.Recipe);

        using var output = new OutputFolder(outDir);
        using (var writer = new ShardedModelWriter(output.WorkPath, plan.Tensors.Select(t => (t.Name, t.OutDType, t.Shape)).ToList(), _options.OutShardBytes))
        {
            var clock = Stopwatch.StartNew();
            long bytesRead = 0;
            for (int i = 0; i < plan.Tensors.Count; i++)
            {
                var t = plan.Tensors[i];
                ComputeTensor(plan, t, device, writer);
                foreach (var x in t.Inputs)
                    bytesRead += _models.Source(x.Model).Evict(x.TensorName);
                progress?.Report(new MergeProgress(i + 1, plan.Tensors.Count, bytesRead, plan.InputBytes, clock.Elapsed, t.Name));
            }
            writer.Complete();
        }
        WriteMetadata(plan, output.WorkPath, Path.GetFileName(output.FinalPath), chatTemplate, warn);
        output.Commit();
        return plan;
    }

    private void ComputeTensor(MergePlan plan, PlannedTensor t, Device device, ShardedModelWriter writer)
    {
        if (t.PassThrough is { } src)
        {
            var file = _models.Source(src.Model).RawFile(src.TensorName);
            var info = file.GetInfo(src.TensorName);
            unsafe
            {
                byte* p = file.GetPointer(info);
                for (long off = 0; off < info.ByteLength; off += 1 << 30)
                {
                    int len = (int)Math.Min(1 << 30, info.ByteLength - off);
                    writer.Write(t.Name, new ReadOnlySpan<byte>(p + off, len), off);
                }
            }
            return;
        }

        using var scope = NewDisposeScope();
        var compute = t.ComputeDType.ToScalarType();
        var loaded = t.Inputs.Select(input => _models.Source(input.Model).Load(input.TensorName, compute, device)).ToList();
        if (t.Vocabulary is { } vocabulary)
            loaded = vocabulary.Align(t.Name, t.Inputs.Select((x, i) => (x.Model, loaded[i])).ToList(), t.BaseModel);
        var inputs = new List<ModelTensor>();
        for (int i = 0; i < t.Inputs.Count; i++)
        {
            var tensor = loaded[i];
            if (!tensor.shape.SequenceEqual(t.Shape))
                tensor = CommonSubmatrix(tensor, t.Shape);
            inputs.Add(new ModelTensor(t.Inputs[i].Model, tensor, t.Inputs[i].Parameters));
        }
        using var random = new Generator(TensorSeed(_options.RandomSeed, t.Name), device);
        var merged = plan.Method.Merge(new MergeInputs
        {
            TensorName = t.Name,
            IsEmbedding = t.IsEmbedding,
            Tensors = inputs,
            BaseModel = t.BaseModel,
            Parameters = t.Parameters,
            Random = random,
        });
        if (!merged.shape.SequenceEqual(t.Shape))
            throw new InvalidOperationException($"merge method '{plan.Method.Name}' returned shape [{string.Join(", ", merged.shape)}] for tensor '{t.Name}', planned [{string.Join(", ", t.Shape)}]");
        TensorBridge.Store(merged, t.OutDType.ToScalarType(), (off, bytes) => writer.Write(t.Name, bytes, off));
    }

    private static Tensor CommonSubmatrix(Tensor t, long[] shape)
    {
        var r = t;
        for (int d = 0; d < shape.Length; d++)
            r = r.narrow(d, 0, shape[d]);
        return r.contiguous();
    }

    /// <summary>A per-tensor seed: the same tensor gets the same random stream in any order and on any thread.</summary>
    internal static ulong TensorSeed(ulong seed, string tensorName)
    {
        var bytes = Encoding.UTF8.GetBytes($"{seed}:{tensorName}");
        return BitConverter.ToUInt64(SHA256.HashData(bytes), 0) & 0x7FFF_FFFF_FFFF_FFFF;
    }

    private void WriteMetadata(MergePlan plan, string dir, string modelName, string? chatTemplate, Action<string>? warn)
    {
        if (plan.OutputConfig is { } config)
            File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        // mergekit saves a tokenizer it built (tokenizer_source) even with --no-copy-tokenizer: the embeddings follow it.
        if (_options.CopyTokenizer || plan.Vocabulary is not null)
        {
            var source = plan.Vocabulary?.TokenizerModel ?? plan.Recipe.BaseModel ?? plan.ReferenceModel;
            string srcDir = _models.Source(source).Directory;
            foreach (var f in TokenizerFiles)
            {
                string p = Path.Combine(srcDir, f);
                if (File.Exists(p))
                    File.Copy(p, Path.Combine(dir, f), overwrite: true);
            }
            if (plan.Vocabulary is { EditsTokenizer: true } v)
                Tokenizers.TokenizerJsonEditor.Write(srcDir, dir, v.KeepBelow, v.Appended);
            if (chatTemplate is not null && !ChatTemplates.Write(dir, chatTemplate))
                warn?.Invoke($"chat_template: tokenizer source '{source}' has no tokenizer_config.json; the chat template is not saved");
        }
        else if (plan.Recipe.ChatTemplate is not null)
        {
            // mergekit's words for the same case.
            warn?.Invoke("chat_template given but no tokenizer is copied (--no-copy-tokenizer); the chat template is not saved");
        }
        File.WriteAllText(Path.Combine(dir, "README.md"), ModelCard.Render(plan, modelName));
    }

    /// <summary>The recipe's chat template; for <c>auto</c>, the models are asked in mergekit's order: models, slice sources, base.</summary>
    private string? ChatTemplate(MergeRecipe recipe)
    {
        if (recipe.ChatTemplate is not { } spec)
            return null;
        var models = (recipe.Models ?? []).Select(m => m.Model)
            .Concat((recipe.Slices ?? []).SelectMany(s => s.Sources.Select(x => x.Model)))
            .Append(recipe.BaseModel).OfType<ModelReference>().Distinct();
        return ChatTemplates.Resolve(spec, models.Select(m => _models.Source(m).Directory));
    }
}
