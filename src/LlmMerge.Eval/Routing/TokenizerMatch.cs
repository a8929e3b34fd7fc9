using System.Text.Json.Nodes;

namespace LlmMerge.Eval.Routing;

/// <summary>
/// Whether two model folders tokenize alike, so one system can score every row with one tokenizer: the same
/// tokenizer.json model and added tokens (formatting aside), or the same SentencePiece tokenizer.model bytes.
/// </summary>
public static class TokenizerMatch
{
    public static bool Same(string a, string b)
    {
        string ja = Path.Combine(a, "tokenizer.json"), jb = Path.Combine(b, "tokenizer.json");
        if (File.Exists(ja) && File.Exists(jb))
        {
            if (File.ReadAllBytes(ja).AsSpan().SequenceEqual(File.ReadAllBytes(jb)))
                return true;
            var x = JsonNode.Parse(File.ReadAllText(ja));
            var y = JsonNode.Parse(File.ReadAllText(jb));
            return JsonNode.DeepEquals(x?["model"], y?["model"]) && JsonNode.DeepEquals(x?["added_tokens"], y?["added_tokens"])
                && JsonNode.DeepEquals(x?["pre_tokenizer"], y?["pre_tokenizer"]) && JsonNode.DeepEquals(x?["normalizer"], y?["normalizer"]);
        }
        string sa = Path.Combine(a, "tokenizer.model"), sb = Path.Combine(b, "tokenizer.model");
        return File.Exists(sa) && File.Exists(sb) && File.ReadAllBytes(sa).AsSpan().SequenceEqual(File.ReadAllBytes(sb));
    }
}
