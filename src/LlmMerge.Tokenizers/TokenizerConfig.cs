using System.Text.Json;

namespace LlmMerge.Tokenizers;

/// <summary>What transformers reads from tokenizer_config.json (and special_tokens_map.json) beside the tokenizer file.</summary>
internal sealed class TokenizerConfig
{
    public bool? AddBosToken { get; private set; }

    public bool? AddEosToken { get; private set; }

    public string? BosToken { get; private set; }

    public string? EosToken { get; private set; }

    public string? PadToken { get; private set; }

    public string? UnkToken { get; private set; }

    public string? ChatTemplate { get; private set; }

    /// <summary>Every named template of a <c>chat_template</c> list ({name, template}); a single template is named "default".</summary>
    public Dictionary<string, string> ChatTemplates { get; } = new(StringComparer.Ordinal);

    /// <summary>The file the chat template was read from, for messages.</summary>
    public string? ChatTemplateFile { get; private set; }

    public long? ModelMaxLength { get; private set; }

    public string? TokenizerClass { get; private set; }

    /// <summary>added_tokens_decoder: id → (content, special); tokenizer.model folders list their extra tokens only here.</summary>
    public Dictionary<int, (string Content, bool Special)> AddedTokens { get; } = new();

    public static TokenizerConfig Load(string modelDir)
    {
        var config = new TokenizerConfig();

        // special_tokens_map.json first: tokenizer_config.json wins where both name a token, as in transformers.
        string mapPath = Path.Combine(modelDir, "special_tokens_map.json");
        if (File.Exists(mapPath))
        {
            JsonFile map = JsonFile.Load(mapPath);
            config.ReadTokens(map);
        }

        string configPath = Path.Combine(modelDir, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            JsonFile file = JsonFile.Load(configPath);
            JsonElement root = file.Root;
            if (root.ValueKind != JsonValueKind.Object) throw file.Error("must hold a JSON object.");
            config.ReadTokens(file);
            config.AddBosToken = file.GetBool(root, "add_bos_token", "tokenizer_config") ?? config.AddBosToken;
            config.AddEosToken = file.GetBool(root, "add_eos_token", "tokenizer_config") ?? config.AddEosToken;
            config.TokenizerClass = file.GetString(root, "tokenizer_class", "tokenizer_config");
            config.ChatTemplate = ReadChatTemplate(file, root, config.ChatTemplates);
            if (config.ChatTemplate is not null) config.ChatTemplateFile = configPath;
            if (JsonFile.Get(root, "model_max_length") is JsonElement max && max.ValueKind == JsonValueKind.Number)
            {
                // transformers writes 1e30 for "no limit".
                double value = max.GetDouble();
                config.ModelMaxLength = value is > 0 and < int.MaxValue ? (long)value : null;
            }

            if (JsonFile.Get(root, "added_tokens_decoder") is JsonElement decoder && decoder.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty p in decoder.EnumerateObject())
                {
                    if (!int.TryParse(p.Name, out int id)) throw file.Error($"added_tokens_decoder key '{p.Name}' is not an integer id.");
                    string where = $"added_tokens_decoder['{p.Name}']";
                    config.AddedTokens[id] = (file.RequireString(p.Value, "content", where), file.GetBool(p.Value, "special", where) ?? false);
                }
            }
        }

        // Newer transformers write the template to its own file.
        string jinjaPath = Path.Combine(modelDir, "chat_template.jinja");
        if (config.ChatTemplate is null && File.Exists(jinjaPath))
        {
            config.ChatTemplate = File.ReadAllText(jinjaPath);
            config.ChatTemplates["default"] = config.ChatTemplate;
            config.ChatTemplateFile = jinjaPath;
        }

        return config;
    }

    private void ReadTokens(JsonFile file)
    {
        JsonElement root = file.Root;
        if (root.ValueKind != JsonValueKind.Object) throw file.Error("must hold a JSON object.");
        string where = System.IO.Path.GetFileNameWithoutExtension(file.Path);
        BosToken = file.GetTokenContent(root, "bos_token", where) ?? BosToken;
        EosToken = file.GetTokenContent(root, "eos_token", where) ?? EosToken;
        PadToken = file.GetTokenContent(root, "pad_token", where) ?? PadToken;
        UnkToken = file.GetTokenContent(root, "unk_token", where) ?? UnkToken;
    }

    // A string, or a list of {name, template} of which "default" is the one transformers uses.
    private static string? ReadChatTemplate(JsonFile file, JsonElement root, Dictionary<string, string> named)
    {
        JsonElement? t = JsonFile.Get(root, "chat_template");
        if (t is null) return null;
        if (t.Value.ValueKind == JsonValueKind.String)
        {
            string? single = t.Value.GetString();
            if (single is not null) named["default"] = single;
            return single;
        }

        if (t.Value.ValueKind == JsonValueKind.Array)
        {
            string? first = null;
            foreach (JsonElement e in t.Value.EnumerateArray())
            {
                string? name = file.GetString(e, "name", "chat_template[]");
                string? template = file.GetString(e, "template", "chat_template[]");
                first ??= template;
                if (name is not null && template is not null) named[name] = template;
            }

            return named.TryGetValue("default", out string? chosen) ? chosen : first;
        }

        throw file.Error("chat_template must be a string or a list of {name, template}.");
    }
}
