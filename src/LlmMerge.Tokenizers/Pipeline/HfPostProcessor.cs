using System.Text.Json;

namespace LlmMerge.Tokenizers.Pipeline;

/// <summary>
/// What a tokenizer.json post-processor does to a single sequence: ids before it (BOS, CLS) and after it (EOS, SEP).
/// Every post-processor Hugging Face ships reduces to this for one sequence without pairs.
/// </summary>
internal sealed record HfPostProcessor(IReadOnlyList<int> Prefix, IReadOnlyList<int> Suffix)
{
    public static readonly HfPostProcessor None = new([], []);

    public List<int> Apply(List<int> ids)
    {
        if (Prefix.Count == 0 && Suffix.Count == 0) return ids;
        var result = new List<int>(Prefix.Count + ids.Count + Suffix.Count);
        result.AddRange(Prefix);
        result.AddRange(ids);
        result.AddRange(Suffix);
        return result;
    }

    public static HfPostProcessor Parse(JsonFile file, JsonElement? json, string where = "post_processor")
    {
        if (json is null) return None;
        JsonElement p = json.Value;
        string type = file.RequireString(p, "type", where);
        switch (type)
        {
            case "ByteLevel":
                return None; // it only trims offsets
            case "Sequence":
            {
                JsonElement list = JsonFile.Get(p, "processors") ?? throw file.Error($"{where}.processors is missing.");
                HfPostProcessor result = None;
                int i = 0;
                foreach (JsonElement child in list.EnumerateArray())
                {
                    HfPostProcessor next = Parse(file, child, $"{where}.processors[{i++}]");
                    result = new HfPostProcessor([.. next.Prefix, .. result.Prefix], [.. result.Suffix, .. next.Suffix]);
                }

                return result;
            }

            case "RobertaProcessing":
            case "BertProcessing":
                return new HfPostProcessor([PairId(file, p, "cls", where)], [PairId(file, p, "sep", where)]);
            case "TemplateProcessing":
                return ParseTemplate(file, p, where);
            default:
                throw file.Error($"{where} type '{type}' is not supported (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence).");
        }
    }

    private static int PairId(JsonFile file, JsonElement p, string name, string where)
    {
        // Serialized as ["<s>", 0].
        JsonElement pair = JsonFile.Get(p, name) ?? throw file.Error($"{where}.{name} is missing.");
        if (pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2 || !pair[1].TryGetInt32(out int id))
            throw file.Error($"{where}.{name} must be [token, id].");
        return id;
    }

    private static HfPostProcessor ParseTemplate(JsonFile file, JsonElement p, string where)
    {
        JsonElement single = JsonFile.Get(p, "single") ?? throw file.Error($"{where}.single is missing.");
        JsonElement? specials = JsonFile.Get(p, "special_tokens");
        var prefix = new List<int>();
        var suffix = new List<int>();
        bool seenSequence = false;

        IEnumerable<(string? Special, bool IsSequence)> items = single.ValueKind == JsonValueKind.String
            ? single.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => s.StartsWith('$') ? ((string?)null, true) : (s.Split(':')[0], false))
            : single.EnumerateArray().Select(e =>
                JsonFile.Get(e, "Sequence") is not null ? ((string?)null, true)
                : JsonFile.Get(e, "SpecialToken") is JsonElement st ? (file.RequireString(st, "id", where + ".single"), false)
                : throw file.Error($"{where}.single has an item that is neither Sequence nor SpecialToken."));

        foreach ((string? special, bool isSequence) in items)
        {
            if (isSequence)
            {
                seenSequence = true;
                continue;
            }

            JsonElement entry = specials is JsonElement s && JsonFile.Get(s, special!) is JsonElement e
                ? e
                : throw file.Error($"{where}.special_tokens has no entry for '{special}', which the template uses.");
            JsonElement ids = JsonFile.Get(entry, "ids") ?? throw file.Error($"{where}.special_tokens['{special}'].ids is missing.");
            foreach (JsonElement id in ids.EnumerateArray())
            {
                (seenSequence ? suffix : prefix).Add(id.GetInt32());
            }
        }

        return new HfPostProcessor(prefix, suffix);
    }
}
