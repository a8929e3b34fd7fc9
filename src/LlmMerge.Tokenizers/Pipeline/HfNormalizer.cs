using System.Text;
using System.Text.Json;

namespace LlmMerge.Tokenizers.Pipeline;

/// <summary>A tokenizer.json normalizer: rewrites each piece of text between added tokens before pre-tokenization.</summary>
internal abstract class HfNormalizer
{
    public abstract string Normalize(string text);

    public static HfNormalizer? Parse(JsonFile file, JsonElement? json, string where = "normalizer")
    {
        if (json is null) return null;
        JsonElement n = json.Value;
        string type = file.RequireString(n, "type", where);
        switch (type)
        {
            case "Sequence":
                JsonElement list = JsonFile.Get(n, "normalizers") ?? throw file.Error($"{where}.normalizers is missing.");
                var parts = new List<HfNormalizer>();
                int i = 0;
                foreach (JsonElement child in list.EnumerateArray())
                {
                    if (Parse(file, child, $"{where}.normalizers[{i++}]") is HfNormalizer p) parts.Add(p);
                }

                return new SequenceNormalizer(parts);
            case "Prepend":
                return new PrependNormalizer(file.RequireString(n, "prepend", where));
            case "Replace":
                return new ReplaceNormalizer(HfPattern.Parse(file, n, where), file.RequireString(n, "content", where));
            case "NFC": return new UnicodeNormalizer(NormalizationForm.FormC);
            case "NFD": return new UnicodeNormalizer(NormalizationForm.FormD);
            case "NFKC": return new UnicodeNormalizer(NormalizationForm.FormKC);
            case "NFKD": return new UnicodeNormalizer(NormalizationForm.FormKD);
            case "Lowercase": return new LowercaseNormalizer();
            case "Strip":
                return new StripNormalizer(file.GetBool(n, "strip_left", where) ?? true, file.GetBool(n, "strip_right", where) ?? true);
            default:
                throw file.Error($"{where} type '{type}' is not supported (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip).");
        }
    }

    private sealed class SequenceNormalizer(List<HfNormalizer> parts) : HfNormalizer
    {
        public override string Normalize(string text)
        {
            foreach (HfNormalizer p in parts) text = p.Normalize(text);
            return text;
        }
    }

    // Hugging Face prepends only to non-empty text, so an empty piece between two added tokens stays empty.
    private sealed class PrependNormalizer(string prepend) : HfNormalizer
    {
        public override string Normalize(string text) => text.Length == 0 ? text : prepend + text;
    }

    private sealed class ReplaceNormalizer(HfPattern pattern, string content) : HfNormalizer
    {
        public override string Normalize(string text) => pattern.Replace(text, content);
    }

    private sealed class UnicodeNormalizer(NormalizationForm form) : HfNormalizer
    {
        public override string Normalize(string text) => text.Normalize(form);
    }

    private sealed class LowercaseNormalizer : HfNormalizer
    {
        public override string Normalize(string text) => text.ToLowerInvariant();
    }

    private sealed class StripNormalizer(bool left, bool right) : HfNormalizer
    {
        public override string Normalize(string text) => left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text;
    }
}
