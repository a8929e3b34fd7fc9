using Microsoft.ML.Tokenizers;
using NUnit.Framework;

namespace LlmMerge.Tokenizers.Tests;

/// <summary>
/// A published vocabulary written as a tokenizer.json once per fixture, loaded by <see cref="HfTokenizer"/>, beside
/// OpenAI's encoding of the same vocabulary (tiktoken's algorithm, via Microsoft.ML.Tokenizers) to check it against.
/// </summary>
public abstract class PublishedTokenizerFixture(Action<string> write, string tiktokenModel)
{
    private TempFolder _folder = null!;

    protected HfTokenizer Tokenizer { get; private set; } = null!;

    protected TiktokenTokenizer Reference { get; private set; } = null!;

    [OneTimeSetUp]
    public void WriteTokenizer()
    {
        _folder = new TempFolder();
        write(_folder.Path);
        Tokenizer = HfTokenizer.FromFolder(_folder.Path);
        Reference = TiktokenTokenizer.CreateForModel(tiktokenModel);
    }

    [OneTimeTearDown]
    public void RemoveTokenizer() => _folder.Dispose();
}
