using System.Text;
using System.Text.Json;
using LlmMerge.Core;

namespace LlmMerge.Search.Candidates;

/// <summary>
/// The scored candidates of a storage path, keyed by candidate fingerprint: candidates.jsonl, appended one flushed
/// line per candidate as soon as it is scored, so a killed search loses at most the candidate it was scoring (a
/// torn last line is cut off when the store opens again).
/// </summary>
public sealed class CandidateStore : IDisposable
{
    public const string FileName = "candidates.jsonl";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    private readonly Dictionary<string, CandidateRecord> _byFingerprint = new(StringComparer.Ordinal);
    private readonly FileStream _stream;

    public CandidateStore(string dir)
    {
        Path = System.IO.Path.Combine(dir, FileName);
        _stream = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        var bytes = new byte[_stream.Length];
        _stream.ReadExactly(bytes);
        int end = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        if (end < bytes.Length)
            _stream.SetLength(end); // a line torn by a kill
        int line = 0;
        foreach (string text in Encoding.UTF8.GetString(bytes, 0, end).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            line++;
            CandidateRecord? r;
            try { r = JsonSerializer.Deserialize<CandidateRecord>(text, Json); }
            catch (JsonException e) { throw new LlmMergeException($"{Path}:{line}: not a candidate record ({e.Message}); remove the line or the storage path", e); }
            if (r is not null) _byFingerprint.TryAdd(r.Fingerprint, r);
        }
        _stream.Seek(0, SeekOrigin.End);
    }

    public string Path { get; }

    public int Count => _byFingerprint.Count;

    public CandidateRecord? Find(string fingerprint) => _byFingerprint.GetValueOrDefault(fingerprint);

    public void Append(CandidateRecord record)
    {
        if (!_byFingerprint.TryAdd(record.Fingerprint, record))
            return;
        var bytes = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(record, Json) + "\n");
        _stream.Write(bytes);
        _stream.Flush(flushToDisk: false);
    }

    public void Dispose() => _stream.Dispose();
}
