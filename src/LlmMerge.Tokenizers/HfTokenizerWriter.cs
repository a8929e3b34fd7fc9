using System.Text.Encodings.Web;
using System.Text.Json;

namespace LlmMerge.Tokenizers;

/// <summary>Settings of a written tokenizer that transformers reads from tokenizer_config.json.</summary>
public sealed record HfTokenizerWriterOptions
{
    /// <summary>The beginning-of-sequence token (one of the special tokens), or null.</summary>
    public string? BosToken { get; init; }

    /// <summary>The end-of-sequence token (one of the special tokens), or null.</summary>
    public string? EosToken { get; init; }

    /// <summary>The padding token (one of the special tokens), or null.</summary>
    public string? PadToken { get; init; }

    /// <summary>Whether tokenizer(text) prepends <see cref="BosToken"/> (written as a TemplateProcessing post-processor).</summary>
    public bool AddBosToken { get; init; }

    /// <summary>A Jinja chat template, or null.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>model_max_length, or null for transformers' "no limit".</summary>
    public int? ModelMaxLength { get; init; }
}

/// <summary>Writes a byte-level BPE as Hugging Face files (tokenizer.json, tokenizer_config.json, special_tokens_map.json) in the GPT-2 layout.</summary>
public static class HfTokenizerWriter
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = true,
        // Keeps 'Ġ' and the like readable, as the files transformers writes.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Writes <paramref name="model"/> into <paramref name="modelDir"/> (created if missing); special tokens not in the vocabulary get the next free ids.</summary>
    public static void Write(string modelDir, ByteLevelBpeModel model, HfTokenizerWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new HfTokenizerWriterOptions();
        Directory.CreateDirectory(modelDir);

        var specials = new List<(string Content, int Id)>();
        int next = model.Vocab.Count == 0 ? 0 : model.Vocab.Values.Max() + 1;
        foreach (string s in model.SpecialTokens)
        {
            specials.Add((s, model.Vocab.TryGetValue(s, out int id) ? id : next++));
        }

        foreach (string? name in new[] { options.BosToken, options.EosToken, options.PadToken })
        {
            if (name is not null && !specials.Any(s => s.Content == name))
                throw new ArgumentException($"'{name}' is named as a BOS/EOS/pad token but is not one of the special tokens.", nameof(options));
        }

        if (options.AddBosToken && options.BosToken is null)
            throw new ArgumentException("AddBosToken needs a BosToken.", nameof(options));

        WriteJson(Path.Combine(modelDir, "tokenizer.json"), w => WriteTokenizerJson(w, model, specials, options));
        WriteJson(Path.Combine(modelDir, "tokenizer_config.json"), w => WriteConfig(w, specials, options));
        WriteJson(Path.Combine(modelDir, "special_tokens_map.json"), w =>
        {
            w.WriteStartObject();
            if (options.BosToken is not null) w.WriteString("bos_token", options.BosToken);
            if (options.EosToken is not null) w.WriteString("eos_token", options.EosToken);
            if (options.PadToken is not null) w.WriteString("pad_token", options.PadToken);
            w.WriteEndObject();
        });
    }

    private static void WriteJson(string path, Action<Utf8JsonWriter> write)
    {
        // Written beside and renamed, so a reader never sees half a file.
        string temp = path + ".tmp";
        using (var stream = File.Create(temp))
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            write(writer);
        }

        File.Move(temp, path, overwrite: true);
    }

    private static void WriteTokenizerJson(Utf8JsonWriter w, ByteLevelBpeModel model, List<(string Content, int Id)> specials, HfTokenizerWriterOptions options)
    {
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach ((string content, int id) in specials.OrderBy(s => s.Id))
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteString("content", content);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNull("normalizer");
        w.WritePropertyName("pre_tokenizer");
        WriteByteLevel(w, useRegex: true);
        w.WritePropertyName("post_processor");
        if (options.AddBosToken)
        {
            int bosId = specials.First(s => s.Content == options.BosToken).Id;
            w.WriteStartObject();
            w.WriteString("type", "TemplateProcessing");
            w.WriteStartArray("single");
            WriteSpecialItem(w, options.BosToken!, 0);
            WriteSequenceItem(w, "A", 0);
            w.WriteEndArray();
            w.WriteStartArray("pair");
            WriteSpecialItem(w, options.BosToken!, 0);
            WriteSequenceItem(w, "A", 0);
            WriteSpecialItem(w, options.BosToken!, 1);
            WriteSequenceItem(w, "B", 1);
            w.WriteEndArray();
            w.WriteStartObject("special_tokens");
            w.WriteStartObject(options.BosToken!);
            w.WriteString("id", options.BosToken);
            w.WriteStartArray("ids");
            w.WriteNumberValue(bosId);
            w.WriteEndArray();
            w.WriteStartArray("tokens");
            w.WriteStringValue(options.BosToken);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        else
        {
            WriteByteLevel(w, useRegex: true);
        }

        w.WritePropertyName("decoder");
        WriteByteLevel(w, useRegex: true);
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        foreach (var (token, id) in model.Vocab.OrderBy(kv => kv.Value)) w.WriteNumber(token, id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach ((string left, string right) in model.Merges)
        {
            w.WriteStartArray();
            w.WriteStringValue(left);
            w.WriteStringValue(right);
            w.WriteEndArray();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, bool useRegex)
    {
        w.WriteStartObject();
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", useRegex);
        w.WriteEndObject();
    }

    private static void WriteSpecialItem(Utf8JsonWriter w, string token, int typeId)
    {
        w.WriteStartObject();
        w.WriteStartObject("SpecialToken");
        w.WriteString("id", token);
        w.WriteNumber("type_id", typeId);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSequenceItem(Utf8JsonWriter w, string id, int typeId)
    {
        w.WriteStartObject();
        w.WriteStartObject("Sequence");
        w.WriteString("id", id);
        w.WriteNumber("type_id", typeId);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteConfig(Utf8JsonWriter w, List<(string Content, int Id)> specials, HfTokenizerWriterOptions options)
    {
        w.WriteStartObject();
        w.WriteBoolean("add_bos_token", options.AddBosToken);
        w.WriteBoolean("add_eos_token", false);
        w.WriteStartObject("added_tokens_decoder");
        foreach ((string content, int id) in specials.OrderBy(s => s.Id))
        {
            w.WriteStartObject(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("content", content);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        WriteOptional(w, "bos_token", options.BosToken);
        WriteOptional(w, "eos_token", options.EosToken);
        WriteOptional(w, "pad_token", options.PadToken);
        w.WriteNull("unk_token");
        if (options.ChatTemplate is not null) w.WriteString("chat_template", options.ChatTemplate);
        w.WriteBoolean("clean_up_tokenization_spaces", false);
        if (options.ModelMaxLength is int max) w.WriteNumber("model_max_length", max);
        else w.WriteNumber("model_max_length", 1e30);
        w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
        w.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name);
        else w.WriteString(name, value);
    }
}
