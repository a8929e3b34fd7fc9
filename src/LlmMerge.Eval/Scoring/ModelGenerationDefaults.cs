using System.Text.Json;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// The sampling defaults a model folder's generation_config.json sets (top_k, top_p), which transformers' generate
/// uses for what lm-eval's generation_kwargs leave out.
/// </summary>
public static class ModelGenerationDefaults
{
    public static (int? TopK, double? TopP) Read(string modelDir)
    {
        string path = Path.Combine(modelDir, "generation_config.json");
        if (!File.Exists(path)) return (null, null);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return (null, null);
            int? topK = doc.RootElement.TryGetProperty("top_k", out var k) && k.ValueKind == JsonValueKind.Number && k.TryGetInt32(out int kk) ? kk : null;
            double? topP = doc.RootElement.TryGetProperty("top_p", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetDouble() : null;
            return (topK, topP);
        }
        catch (JsonException e)
        {
            throw new Core.LlmMergeException($"{path}: not valid JSON ({e.Message}).", e);
        }
    }
}
