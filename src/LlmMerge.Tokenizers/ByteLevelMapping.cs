namespace LlmMerge.Tokenizers;

/// <summary>GPT-2's bytes_to_unicode table: every byte as a printable character, so byte-level vocabularies are plain strings.</summary>
public static class ByteLevelMapping
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = BuildCharToByte();

    /// <summary>The character that stands for <paramref name="b"/> in byte-level vocabularies (space is 'Ġ').</summary>
    public static char ToChar(byte b) => ByteToChar[b];

    /// <summary>Maps text to its UTF-8 bytes written as byte-level characters.</summary>
    public static string Encode(string text)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, static (span, b) =>
        {
            for (int i = 0; i < b.Length; i++)
            {
                span[i] = ByteToChar[b[i]];
            }
        });
    }

    /// <summary>The byte a byte-level character stands for, or null for a character outside the table.</summary>
    public static byte? ToByte(char c) => CharToByte.TryGetValue(c, out byte b) ? b : null;

    // The printable Latin-1 bytes stand for themselves; the others (controls, space, soft hyphen) are moved to
    // U+0100 and above in byte order, exactly as GPT-2's encoder.py does, so vocabularies written by any
    // Hugging Face tool read the same here.
    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        bool[] printable = new bool[256];
        for (int b = '!'; b <= '~'; b++) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            map[b] = printable[b] ? (char)b : (char)(256 + n++);
        }

        return map;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++)
        {
            map[ByteToChar[b]] = (byte)b;
        }

        return map;
    }
}
