using LlmMerge.Core;
using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Chat;

/// <summary>
/// A model's chat template, rendered as transformers' <c>apply_chat_template(messages, tokenize=False,
/// add_generation_prompt=...)</c> does (transformers utils/chat_template_utils.py): the template sees
/// <c>messages</c>, <c>add_generation_prompt</c>, <c>tools</c> and <c>documents</c> (None) and the tokenizer's
/// special tokens as text (<c>bos_token</c>, <c>eos_token</c>, <c>pad_token</c>, <c>unk_token</c>). As lm-eval's
/// HFLM.apply_chat_template does (lm_eval/models/huggingface.py at 4e7e0d47), a render that fails is retried once
/// without the system messages (Gemma's template refuses a system role).
/// </summary>
public sealed class ChatTemplate
{
    private readonly JinjaTemplate _template;
    private readonly Dictionary<string, object?> _specialTokens = new(StringComparer.Ordinal);

    private ChatTemplate(JinjaTemplate template, string where)
    {
        _template = template;
        Where = where;
    }

    /// <summary>Where the template came from (a file, or a built-in's name), for messages.</summary>
    public string Where { get; }

    /// <summary>The template text.</summary>
    public string Source => _template.Source;

    /// <summary>
    /// Parses <paramref name="source"/> for the tokenizer's special tokens; a construct the renderer does not cover is an
    /// <see cref="LlmMergeException"/> naming <paramref name="where"/>, the line and the construct.
    /// </summary>
    public static ChatTemplate Compile(string source, string where, HfTokenizer? tokenizer)
    {
        JinjaTemplate parsed;
        try
        {
            parsed = JinjaTemplate.Parse(source);
        }
        catch (JinjaException e)
        {
            throw new LlmMergeException($"{where}: chat template line {e.Line}: {e.Message}.", e);
        }

        var template = new ChatTemplate(parsed, where);
        if (tokenizer is not null)
        {
            void Add(string name, string? token)
            {
                if (token is not null) template._specialTokens[name] = token;
            }

            Add("bos_token", tokenizer.BosToken);
            Add("eos_token", tokenizer.EosToken);
            Add("pad_token", tokenizer.PadToken);
            Add("unk_token", tokenizer.UnkToken);
        }

        return template;
    }

    /// <summary>
    /// The template <c>--apply-chat-template [NAME]</c> asks for, as lm-eval's chat_template(name) picks it: the
    /// tokenizer's named template NAME (or its default when no name is given). A NAME the tokenizer lacks may also be
    /// a template file or one of mergekit's built-in names (chatml, llama3, alpaca, exaone, mistral: llmmerge's
    /// extension for models that carry no template).
    /// </summary>
    public static ChatTemplate Resolve(HfTokenizer tokenizer, string? name, string modelDir)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        string file = tokenizer.ChatTemplateFile ?? Path.Combine(modelDir, "tokenizer_config.json");
        if (name is null or "" or "default")
        {
            if (tokenizer.ChatTemplate is string t) return Compile(t, file, tokenizer);
            if (tokenizer.ChatTemplates.Count > 0)
                throw new LlmMergeException($"{file}: the tokenizer has several chat templates and none is named 'default'; pass one of {string.Join(", ", tokenizer.ChatTemplates.Keys)} to --apply-chat-template.");
            throw new LlmMergeException($"{modelDir}: the tokenizer has no chat_template (tokenizer_config.json or chat_template.jinja); pass --apply-chat-template with a template file or a built-in name ({string.Join(", ", Core.Models.ChatTemplates.BuiltIn.Keys.Order(StringComparer.Ordinal))}).");
        }

        if (tokenizer.ChatTemplates.TryGetValue(name, out string? named)) return Compile(named, $"{file} (chat template '{name}')", tokenizer);
        if (File.Exists(name)) return Compile(File.ReadAllText(name), name, tokenizer);
        if (Core.Models.ChatTemplates.BuiltIn.TryGetValue(name, out string? builtIn)) return Compile(builtIn, $"built-in chat template '{name}'", tokenizer);
        string names = tokenizer.ChatTemplates.Count > 0 ? $"the tokenizer's templates ({string.Join(", ", tokenizer.ChatTemplates.Keys)}), " : "";
        throw new LlmMergeException($"--apply-chat-template {name}: not a chat template name; use {names}a template file, or a built-in name ({string.Join(", ", Core.Models.ChatTemplates.BuiltIn.Keys.Order(StringComparer.Ordinal))}).");
    }

    /// <summary>
    /// The conversation as the template renders it. A failing render is retried without system messages, as lm-eval
    /// does; if that fails too, the first failure is reported with the template's file and line.
    /// </summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        try
        {
            return RenderOnce(messages, addGenerationPrompt);
        }
        catch (JinjaException first)
        {
            if (messages.Any(m => m.Role == "system"))
            {
                try
                {
                    return RenderOnce(messages.Where(m => m.Role != "system").ToList(), addGenerationPrompt);
                }
                catch (JinjaException)
                {
                    // Report the failure of the conversation as asked.
                }
            }

            string kind = first is JinjaRaisedException ? "the template raised an exception" : "cannot render";
            throw new LlmMergeException($"{Where}: chat template line {first.Line}: {kind}: {first.Message}.", first);
        }
    }

    private string RenderOnce(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var list = messages.Select(m =>
        {
            var d = JinjaValues.NewDict();
            d["role"] = m.Role;
            d["content"] = m.Content;
            return (object?)d;
        }).ToList();
        var variables = new Dictionary<string, object?>(_specialTokens, StringComparer.Ordinal)
        {
            ["messages"] = list,
            ["add_generation_prompt"] = addGenerationPrompt,
            ["tools"] = null,
            ["documents"] = null,
        };
        return _template.Render(variables);
    }
}
