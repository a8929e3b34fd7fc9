using LlmMerge.Core;
using LlmMerge.Eval.Chat;

namespace LlmMerge.Tests.Chat;

/// <summary>
/// The published templates of Llama 3, Mistral, Qwen2, Gemma and Phi-3 rendered for one conversation; each expected
/// string is written out by hand from the template's text.
/// </summary>
public class PublishedChatTemplateTests
{
    private static readonly ChatMessage System = new("system", "You are a helpful assistant.");
    private static readonly ChatMessage[] Turns =
    [
        new("user", "Hello"),
        new("assistant", "  Hi there  "),
        new("user", "What is 2 + 2?"),
    ];

    private static string Render(string json, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, Dictionary<string, object?> tokens)
    {
        var template = JinjaTemplate.Parse(PublishedChatTemplates.Decode(json));
        var variables = new Dictionary<string, object?>(tokens)
        {
            ["messages"] = messages.Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        return template.Render(variables);
    }

    [Test]
    public void Llama3TrimsEachTurnAndPutsBosBeforeTheFirst()
    {
        string text = Render(PublishedChatTemplates.Llama3Json, [System, .. Turns], true, new() { ["bos_token"] = "<|begin_of_text|>", ["eos_token"] = "<|eot_id|>" });
        Assert.That(text, Is.EqualTo(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 2?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n"));
        string noPrompt = Render(PublishedChatTemplates.Llama3Json, Turns, false, new() { ["bos_token"] = "<|begin_of_text|>" });
        Assert.That(noPrompt, Does.StartWith("<|begin_of_text|><|start_header_id|>user").And.EndWith("What is 2 + 2?<|eot_id|>"));
    }

    [Test]
    public void MistralAlternatesTurnsAndRefusesASystemMessage()
    {
        var tokens = new Dictionary<string, object?> { ["bos_token"] = "<s>", ["eos_token"] = "</s>" };
        Assert.That(Render(PublishedChatTemplates.MistralJson, Turns, true, tokens),
            Is.EqualTo("<s>[INST] Hello [/INST]  Hi there  </s>[INST] What is 2 + 2? [/INST]"));
        var e = Assert.Throws<JinjaRaisedException>(() => Render(PublishedChatTemplates.MistralJson, [System, .. Turns], true, tokens));
        Assert.That(e!.Message, Is.EqualTo("Conversation roles must alternate user/assistant/user/assistant/..."));
        Assert.That(e.Line, Is.EqualTo(1));
    }

    [Test]
    public void MistralMultiLineTemplateFoldsTheSystemMessageIntoTheFirstTurnWithoutStrayWhitespace()
    {
        var tokens = new Dictionary<string, object?> { ["bos_token"] = "<s>", ["eos_token"] = "</s>" };
        Assert.That(Render(PublishedChatTemplates.MistralSystemJson, [System, .. Turns], true, tokens),
            Is.EqualTo("<s> [INST] You are a helpful assistant.\n\nHello [/INST]   Hi there  </s> [INST] What is 2 + 2? [/INST]"));
        Assert.That(Render(PublishedChatTemplates.MistralSystemJson, Turns, true, tokens),
            Is.EqualTo("<s> [INST] Hello [/INST]   Hi there  </s> [INST] What is 2 + 2? [/INST]"));
        var e = Assert.Throws<JinjaRaisedException>(() => Render(PublishedChatTemplates.MistralSystemJson, [new("assistant", "x")], true, tokens));
        Assert.That(e!.Line, Is.EqualTo(11), "the raise_exception call's line in the multi-line template");
    }

    [Test]
    public void Qwen2AddsItsDefaultSystemMessageOnlyWhenThereIsNone()
    {
        Assert.That(Render(PublishedChatTemplates.Qwen2Json, Turns, true, []), Is.EqualTo(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            + "<|im_start|>user\nHello<|im_end|>\n"
            + "<|im_start|>assistant\n  Hi there  <|im_end|>\n"
            + "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n"
            + "<|im_start|>assistant\n"));
        Assert.That(Render(PublishedChatTemplates.Qwen2Json, [new("system", "Be brief."), Turns[0]], false, []), Is.EqualTo(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"));
    }

    [Test]
    public void GemmaNamesTheAssistantModelAndTrimsContent()
    {
        var tokens = new Dictionary<string, object?> { ["bos_token"] = "<bos>", ["eos_token"] = "<eos>" };
        Assert.That(Render(PublishedChatTemplates.GemmaJson, Turns, true, tokens), Is.EqualTo(
            "<bos><start_of_turn>user\nHello<end_of_turn>\n"
            + "<start_of_turn>model\nHi there<end_of_turn>\n"
            + "<start_of_turn>user\nWhat is 2 + 2?<end_of_turn>\n"
            + "<start_of_turn>model\n"));
        var e = Assert.Throws<JinjaRaisedException>(() => Render(PublishedChatTemplates.GemmaJson, [System, .. Turns], true, tokens));
        Assert.That(e!.Message, Is.EqualTo("System role not supported"));
    }

    [Test]
    public void Phi3EndsWithEosWithoutAGenerationPrompt()
    {
        var tokens = new Dictionary<string, object?> { ["bos_token"] = "<s>", ["eos_token"] = "<|endoftext|>" };
        Assert.That(Render(PublishedChatTemplates.Phi3Json, [System, .. Turns], true, tokens), Is.EqualTo(
            "<|system|>\nYou are a helpful assistant.<|end|>\n"
            + "<|user|>\nHello<|end|>\n"
            + "<|assistant|>\n  Hi there  <|end|>\n"
            + "<|user|>\nWhat is 2 + 2?<|end|>\n"
            + "<|assistant|>\n"));
        Assert.That(Render(PublishedChatTemplates.Phi3Json, [Turns[0]], false, tokens), Is.EqualTo("<|user|>\nHello<|end|>\n<|endoftext|>"));
    }

    [Test]
    public void ARenderTheTemplateRefusesIsRetriedWithoutTheSystemMessageAsLmEvalDoes()
    {
        var template = ChatTemplate.Compile(PublishedChatTemplates.Decode(PublishedChatTemplates.GemmaJson), "gemma/tokenizer_config.json", null);
        string text = template.Render([System, new ChatMessage("user", "Hi")]);
        Assert.That(text, Is.EqualTo("<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"), "no bos_token without a tokenizer: it prints as nothing");

        // Two user turns in a row fail with or without the system message: the error names the file, the line and the template's words.
        var e = Assert.Throws<LlmMergeException>(() => template.Render([System, new("user", "a"), new("user", "b")]));
        Assert.That(e!.Message, Is.EqualTo("gemma/tokenizer_config.json: chat template line 1: the template raised an exception: System role not supported."));
    }

    [Test]
    public void MergekitsAlpacaBuiltInRendersWithSelectattrDictLiteralsAndInlineIf()
    {
        var template = ChatTemplate.Compile(Core.Models.ChatTemplates.BuiltIn["alpaca"], "alpaca", null);
        Assert.That(template.Render([new("system", " Be kind. "), new("user", "Add 2 and 2."), new("assistant", "4"), new("user", "And 3?")]), Is.EqualTo(
            "Be kind.\n\n### Instruction:\nAdd 2 and 2.\n\n### Response:\n4\n\n### Instruction:\nAnd 3?### Response:\n"));
        Assert.That(template.Render([new("user", "Hi")], addGenerationPrompt: false), Is.EqualTo("\n\n### Instruction:\nHi"));
    }
}
