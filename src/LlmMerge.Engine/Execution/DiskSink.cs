using LlmMerge.Core.IO;
using LlmMerge.Core.Models;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Modeling.Torch;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Execution;

/// <summary>
/// Writes the merge as a Hugging Face model folder: safetensors shards at their planned offsets, then config.json,
/// the tokenizer source's files and a model card. Everything goes to a hidden work folder renamed into place on
/// <see cref="Complete"/>, so an interrupted merge never leaves something that looks finished.
/// </summary>
public sealed class DiskSink(string outDir) : IMergeSink
{
    /// <summary>Tokenizer and generation files copied from the tokenizer source.</summary>
    public static readonly string[] TokenizerFiles =
    [
        "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "added_tokens.json",
        "vocab.json", "merges.txt", "generation_config.json", "chat_template.json", "chat_template.jinja",
    ];

    private OutputFolder? _output;
    private ShardedModelWriter? _writer;

    public void Begin(MergeContext context)
    {
        _output = new OutputFolder(outDir);
        _writer = new ShardedModelWriter(_output.WorkPath, context.Plan.Tensors.Select(t => (t.Name, t.OutDType, t.Shape)).ToList(), context.Options.OutShardBytes);
    }

    public void Write(PlannedTensor tensor, Tensor merged) =>
        TensorBridge.Store(merged, tensor.OutDType.ToScalarType(), (off, bytes) => _writer!.Write(tensor.Name, bytes, off));

    public void WriteRaw(PlannedTensor tensor, long offset, ReadOnlySpan<byte> bytes) => _writer!.Write(tensor.Name, bytes, offset);

    public bool TakesStoredBytes => true;

    public void Complete(MergeContext context)
    {
        _writer!.Complete();
        _writer.Dispose();
        _writer = null;
        WriteMetadata(context, _output!.WorkPath, Path.GetFileName(_output.FinalPath));
        _output.Commit();
    }

    private static void WriteMetadata(MergeContext context, string dir, string modelName)
    {
        var plan = context.Plan;
        if (plan.OutputConfig is { } config)
            File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        // mergekit saves a tokenizer it built (tokenizer_source) even with --no-copy-tokenizer: the embeddings follow it.
        if (context.Options.CopyTokenizer || plan.Vocabulary is not null)
        {
            var source = plan.Vocabulary?.TokenizerModel ?? plan.Recipe.BaseModel ?? plan.ReferenceModel;
            string srcDir = context.Models.Source(source).Directory;
            foreach (var f in TokenizerFiles)
            {
                string p = Path.Combine(srcDir, f);
                if (File.Exists(p))
                    File.Copy(p, Path.Combine(dir, f), overwrite: true);
            }
            if (plan.Vocabulary is { EditsTokenizer: true } v)
                Tokenizers.TokenizerJsonEditor.Write(srcDir, dir, v.KeepBelow, v.Appended);
            if (context.ChatTemplate is not null && !ChatTemplates.Write(dir, context.ChatTemplate))
                context.Warn?.Invoke($"chat_template: tokenizer source '{source}' has no tokenizer_config.json; the chat template is not saved");
        }
        else if (plan.Recipe.ChatTemplate is not null)
        {
            // mergekit's words for the same case.
            context.Warn?.Invoke("chat_template given but no tokenizer is copied (--no-copy-tokenizer); the chat template is not saved");
        }
        File.WriteAllText(Path.Combine(dir, "README.md"), ModelCard.Render(plan, modelName));
    }

    public void Dispose()
    {
        _writer?.Dispose();
        _output?.Dispose();
    }
}
