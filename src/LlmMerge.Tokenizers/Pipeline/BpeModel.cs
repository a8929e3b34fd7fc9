using System.Text;
using Microsoft.ML.Tokenizers;

namespace LlmMerge.Tokenizers.Pipeline;

/// <summary>
/// tokenizer.json's BPE model. The merging itself is Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> (a port of
/// Hugging Face's); what it lacks is done here around it: byte_fallback, ignore_merges, and unknown characters.
/// </summary>
internal sealed class BpeModel
{
    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, string> _idToToken;
    private readonly bool _byteFallback;
    private readonly int? _unkId;
    private readonly bool _fuseUnk;
    private readonly bool _ignoreMerges;

    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, string? unkToken, bool fuseUnk, bool byteFallback, bool ignoreMerges)
    {
        _vocab = vocab;
        _idToToken = new Dictionary<int, string>(vocab.Count);
        foreach (var kv in vocab) _idToToken.TryAdd(kv.Value, kv.Key);
        _fuseUnk = fuseUnk;
        _ignoreMerges = ignoreMerges;
        if (unkToken is not null)
        {
            _unkId = vocab.TryGetValue(unkToken, out int unk) ? unk : throw new ArgumentException($"unk_token '{unkToken}' is not in the vocabulary");
        }

        _byteFallback = byteFallback;

        // Merges are handed over as "left right": BpeOptions has no other form, so a token containing a space
        // cannot be merged here (no byte-level or Metaspace vocabulary has one: both replace the space).
        var mergeLines = new List<string>(merges.Count);
        foreach ((string left, string right) in merges)
        {
            if (left.Contains(' ', StringComparison.Ordinal) || right.Contains(' ', StringComparison.Ordinal))
                throw new ArgumentException($"merge ['{left}', '{right}'] has a token with a space, which is not supported");
            mergeLines.Add(left + " " + right);
        }

        _bpe = BpeTokenizer.Create(new BpeOptions(vocab) { Merges = mergeLines });
    }

    public IReadOnlyDictionary<string, int> Vocabulary => _vocab;

    public static string ByteToken(byte b) => $"<0x{b:X2}>";

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public string? IdToToken(int id) => _idToToken.TryGetValue(id, out string? t) ? t : null;

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Encode(string word, List<int> ids)
    {
        if (word.Length == 0) return;
        if (_ignoreMerges && _vocab.TryGetValue(word, out int whole))
        {
            ids.Add(whole);
            return;
        }

        // Runs of known characters go to the BPE merger; a character outside the vocabulary ends the run. Merges
        // never join a <0xXX> or unk symbol with its neighbours in the vocabularies that use them, so merging the
        // runs apart gives the same ids as merging the whole word.
        int runStart = 0;
        bool lastWasUnk = false;
        int i = 0;
        while (i < word.Length)
        {
            int len = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            string symbol = word.Substring(i, len);
            if (_vocab.ContainsKey(symbol))
            {
                i += len;
                continue;
            }

            if (i > runStart)
            {
                EncodeRun(word[runStart..i], ids);
                lastWasUnk = false;
            }

            if (TryByteFallback(symbol, ids))
            {
                lastWasUnk = false;
            }
            else if (_unkId is int unk)
            {
                if (!(lastWasUnk && _fuseUnk)) ids.Add(unk);
                lastWasUnk = true;
            }

            // With neither byte fallback nor unk, Hugging Face drops the character; so do we.
            i += len;
            runStart = i;
        }

        if (runStart < word.Length) EncodeRun(word[runStart..], ids);
    }

    private void EncodeRun(string run, List<int> ids)
    {
        // A single symbol needs no merging; the run's characters are all in the vocabulary.
        if (run.Length == 1)
        {
            ids.Add(_vocab[run]);
            return;
        }

        ids.AddRange(_bpe.EncodeToIds(run, considerPreTokenization: false, considerNormalization: false));
    }

    // A character is written as its UTF-8 bytes only when every one of its <0xXX> tokens exists; otherwise it
    // falls to unk, as in Hugging Face.
    private bool TryByteFallback(string symbol, List<int> ids)
    {
        if (!_byteFallback) return false;
        byte[] bytes = Encoding.UTF8.GetBytes(symbol);
        var found = new List<int>(bytes.Length);
        foreach (byte b in bytes)
        {
            if (!_vocab.TryGetValue(ByteToken(b), out int id)) return false;
            found.Add(id);
        }

        ids.AddRange(found);
        return true;
    }
}
