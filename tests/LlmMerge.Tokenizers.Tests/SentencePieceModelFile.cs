using System.Text;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>
/// Writes a tiny SentencePiece BPE tokenizer.model by hand (protobuf ModelProto: pieces, trainer_spec, normalizer_spec),
/// with the same pieces as <see cref="SentencePieceStyleFixture"/>: ids 0 &lt;unk&gt;, 1 &lt;s&gt;, 2 &lt;/s&gt;, 3..258 bytes, 259.. pieces.
/// SentencePiece merges by piece score (highest first), so the scores below follow the fixture's merge ranks.
/// </summary>
internal static class SentencePieceModelFile
{
    private const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;

    public static void Write(string path)
    {
        var model = new MemoryStream();
        Piece(model, "<unk>", 0, Unknown);
        Piece(model, "<s>", 0, Control);
        Piece(model, "</s>", 0, Control);
        for (int b = 0; b < 256; b++) Piece(model, $"<0x{b:X2}>", 0, Byte);

        string[] pieces = SentencePieceStyleFixture.Pieces;
        for (int i = 0; i < pieces.Length; i++)
        {
            // Single characters score lowest; a merged piece scores higher the earlier its merge rank (rank r → -r).
            int rank = Array.FindIndex(SentencePieceStyleFixture.Merges, m => m.Left + m.Right == pieces[i]);
            float score = rank < 0 ? -1000 - i : -(rank + 1);
            Piece(model, pieces[i], score, Normal);
        }

        var trainer = new MemoryStream();
        Varint(trainer, 3, 2); // model_type BPE
        Varint(trainer, 4, 259 + (ulong)pieces.Length); // vocab_size
        Varint(trainer, 35, 1); // byte_fallback
        Varint(trainer, 40, 0); // unk_id
        Varint(trainer, 41, 1); // bos_id
        Varint(trainer, 42, 2); // eos_id
        Varint(trainer, 43, unchecked((ulong)-1L)); // pad_id = -1
        Message(model, 2, trainer);

        var normalizer = new MemoryStream();
        Bytes(normalizer, 1, Encoding.UTF8.GetBytes("identity"));
        Varint(normalizer, 3, 1); // add_dummy_prefix
        Varint(normalizer, 4, 0); // remove_extra_whitespaces
        Varint(normalizer, 5, 1); // escape_whitespaces
        Message(model, 3, normalizer);

        File.WriteAllBytes(path, model.ToArray());
    }

    private static void Piece(Stream s, string piece, float score, int type)
    {
        var p = new MemoryStream();
        Bytes(p, 1, Encoding.UTF8.GetBytes(piece));
        Tag(p, 2, 5);
        p.Write(BitConverter.GetBytes(score));
        Varint(p, 3, (ulong)type);
        Message(s, 1, p);
    }

    private static void Message(Stream s, int field, MemoryStream body) => Bytes(s, field, body.ToArray());

    private static void Bytes(Stream s, int field, byte[] data)
    {
        Tag(s, field, 2);
        WriteVarint(s, (ulong)data.Length);
        s.Write(data);
    }

    private static void Varint(Stream s, int field, ulong value)
    {
        Tag(s, field, 0);
        WriteVarint(s, value);
    }

    private static void Tag(Stream s, int field, int wireType) => WriteVarint(s, ((ulong)field << 3) | (uint)wireType);

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        s.WriteByte((byte)value);
    }
}
