namespace LlmMerge.Tokenizers.Tests;

/// <summary>Texts that exercise the split regexes: contractions, digits, runs of spaces and newlines, accents, CJK, emoji, code.</summary>
internal static class SampleTexts
{
    public static readonly string[] All =
    [
        "Hello world",
        "Hello, world!",
        " leading space and trailing space ",
        "multiple   spaces    here",
        "line one\nline two\n\n   indented\n",
        "don't you're I'LL we've she'd THEY'RE",
        "Numbers 1234567 and 3.14159, 2024-01-01",
        "naïve café déjà vu, Ünïcödé ÀÉÎÕÜ ß",
        "日本語のテキストと中文",
        "emoji 🤖🎉 mix 👍🏽",
        "tabs\tand\r\nCRLF\r\n",
        "def f(x):\n    return x ** 2  # square\n",
        "The quick brown fox jumps over the lazy dog.",
        "   ",
        "Question: What is 2+2?\nAnswer: 4",
        "<html><body class=\"x\">&nbsp;</body></html>",
    ];
}
