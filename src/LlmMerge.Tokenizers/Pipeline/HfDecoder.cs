using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LlmMerge.Tokenizers.Pipeline;

/// <summary>A tokenizer.json decoder: turns the list of token strings back into text, step by step as Hugging Face's decode_chain does.</summary>
internal abstract class HfDecoder
{
    public abstract List<string> DecodeChain(List<string> tokens);

    public static HfDecoder? Parse(JsonFile file, JsonElement? json, string where = "decoder")
    {
        if (json is null) return null;
        JsonElement d = json.Value;
        string type = file.RequireString(d, "type", where);
        switch (type)
        {
            case "Sequence":
                JsonElement list = JsonFile.Get(d, "decoders") ?? throw file.Error($"{where}.decoders is missing.");
                var parts = new List<HfDecoder>();
                int i = 0;
                foreach (JsonElement child in list.EnumerateArray())
                {
                    if (Parse(file, child, $"{where}.decoders[{i++}]") is HfDecoder c) parts.Add(c);
                }

                return new SequenceDecoder(parts);
            case "ByteLevel": return new ByteLevelDecoder();
            case "Replace": return new ReplaceDecoder(HfPattern.Parse(file, d, where), file.RequireString(d, "content", where));
            case "ByteFallback": return new ByteFallbackDecoder();
            case "Fuse": return new FuseDecoder();
            case "Strip":
                string content = file.GetString(d, "content", where) ?? " ";
                if (content.Length != 1) throw file.Error($"{where}.content must be one character.");
                return new StripDecoder(content[0], file.GetInt(d, "start", where) ?? 0, file.GetInt(d, "stop", where) ?? 0);
            case "Metaspace": return new MetaspaceDecoder(MetaspaceSettings.Parse(file, d, where));
            default:
                throw file.Error($"{where} type '{type}' is not supported (supported: ByteLevel, Sequence, Replace, ByteFallback, Fuse, Strip, Metaspace).");
        }
    }

    private sealed class SequenceDecoder(List<HfDecoder> parts) : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens)
        {
            foreach (HfDecoder p in parts) tokens = p.DecodeChain(tokens);
            return tokens;
        }
    }

    // All tokens are decoded as one byte string, so a character split over several tokens comes back whole;
    // a token with a character outside the byte alphabet (an added token such as "<|im_start|>" is fine, one
    // with a real space is not) contributes its own UTF-8 bytes, as Hugging Face does.
    private sealed class ByteLevelDecoder : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens)
        {
            var bytes = new List<byte>();
            foreach (string token in tokens)
            {
                int mark = bytes.Count;
                bool ok = true;
                foreach (char c in token)
                {
                    if (ByteLevelMapping.ToByte(c) is byte b) bytes.Add(b);
                    else
                    {
                        ok = false;
                        break;
                    }
                }

                if (!ok)
                {
                    bytes.RemoveRange(mark, bytes.Count - mark);
                    bytes.AddRange(Encoding.UTF8.GetBytes(token));
                }
            }

            return [Encoding.UTF8.GetString(bytes.ToArray())];
        }
    }

    private sealed class ReplaceDecoder(HfPattern pattern, string content) : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => tokens.Select(t => pattern.Replace(t, content)).ToList();
    }

    // Runs of <0xXX> tokens become their UTF-8 text; a run that is not valid UTF-8 becomes one U+FFFD per byte.
    private sealed class ByteFallbackDecoder : HfDecoder
    {
        private static readonly UTF8Encoding Strict = new(false, true);

        public override List<string> DecodeChain(List<string> tokens)
        {
            var result = new List<string>();
            var pending = new List<byte>();
            foreach (string token in tokens)
            {
                if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                    && byte.TryParse(token.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte b))
                {
                    pending.Add(b);
                    continue;
                }

                Flush(pending, result);
                result.Add(token);
            }

            Flush(pending, result);
            return result;
        }

        private static void Flush(List<byte> pending, List<string> result)
        {
            if (pending.Count == 0) return;
            try
            {
                result.Add(Strict.GetString(pending.ToArray()));
            }
            catch (DecoderFallbackException)
            {
                for (int i = 0; i < pending.Count; i++) result.Add("\uFFFD");
            }

            pending.Clear();
        }
    }

    private sealed class FuseDecoder : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
    }

    private sealed class StripDecoder(char content, int start, int stop) : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => tokens.Select(Strip).ToList();

        private string Strip(string token)
        {
            int from = 0;
            while (from < start && from < token.Length && token[from] == content) from++;
            int to = token.Length;
            while (token.Length - to < stop && to > from && token[to - 1] == content) to--;
            return token[from..to];
        }
    }

    // As in Hugging Face: the replacement becomes a space, except in the first token, where the prepended
    // replacement is dropped (unless nothing was prepended).
    private sealed class MetaspaceDecoder(MetaspaceSettings settings) : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens)
        {
            var result = new List<string>(tokens.Count);
            for (int i = 0; i < tokens.Count; i++)
            {
                var sb = new StringBuilder(tokens[i].Length);
                foreach (char c in tokens[i])
                {
                    if (c != settings.Replacement) sb.Append(c);
                    else if (!(i == 0 && settings.PrependScheme != "never")) sb.Append(' ');
                }

                result.Add(sb.ToString());
            }

            return result;
        }
    }
}
