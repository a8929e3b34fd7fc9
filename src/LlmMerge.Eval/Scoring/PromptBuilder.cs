using LlmMerge.Eval.Chat;
using LlmMerge.Eval.Tasks;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// A row's prompt as lm-eval's fewshot_context lays it out (lm_eval/api/task.py and lm_eval/api/utils.py at
/// 4e7e0d47): a system message with the system instruction and the description (joined by the few-shot delimiter
/// where neither has whitespace at the join, maybe_delimit), then each example as a user turn (the question, the
/// target delimiter) and an assistant turn (the answer, the few-shot delimiter), then the row's question. As plain
/// text the messages are concatenated; with a chat template they are rendered by it, the examples as earlier
/// turns (<c>--fewshot-as-multiturn</c>) or folded with the question into one user message
/// (multiturn_to_singleturn), with the generation prompt added.
/// </summary>
public sealed class PromptBuilder
{
    private readonly ChatTemplate? _template;
    private readonly bool _multiturn;
    private readonly string? _systemInstruction;

    /// <summary>A builder that renders with <paramref name="template"/> (null: plain text).</summary>
    public PromptBuilder(ChatTemplate? template, bool fewshotAsMultiturn, string? systemInstruction)
    {
        _template = template;
        _multiturn = fewshotAsMultiturn;
        _systemInstruction = systemInstruction;
    }

    /// <summary>Whether prompts go through a chat template (then multiple-choice continuations take no target delimiter, as in lm-eval).</summary>
    public bool UsesChatTemplate => _template is not null;

    /// <summary>The context the model reads for <paramref name="row"/> of <paramref name="task"/>.</summary>
    public string Context(EvalRow row, EvalTask task)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(task);
        if (_template is null && _systemInstruction is null) return row.Context;
        var messages = Messages(row, task);
        if (_template is null) return string.Concat(messages.Select(m => m.Content + m.Delimiter));
        var chat = _multiturn
            ? messages.Select(m => new ChatMessage(m.Role, m.Content)).ToList()
            : SingleTurn(messages);
        try
        {
            return _template.Render(chat, addGenerationPrompt: true);
        }
        catch (Core.LlmMergeException e)
        {
            throw new Core.LlmMergeException($"{row.Source}: {e.Message}", e);
        }
    }

    private List<(string Role, string Content, string Delimiter)> Messages(EvalRow row, EvalTask task)
    {
        var messages = new List<(string Role, string Content, string Delimiter)>();
        string system = MaybeDelimit(_systemInstruction, row.Description, task.FewshotDelimiter);
        if (system.Length > 0) messages.Add(("system", system, ""));
        foreach (var (q, a) in row.Examples)
        {
            if (a.Length > 0)
            {
                messages.Add(("user", q, task.TargetDelimiter));
                messages.Add(("assistant", a, task.FewshotDelimiter));
            }
            else
            {
                messages.Add(("user", q, ""));
            }
        }

        messages.Add(("user", row.Question ?? row.Context, ""));
        return messages;
    }

    // lm-eval's multiturn_to_singleturn: the system message stays; everything else becomes one user message of plain text.
    private static List<ChatMessage> SingleTurn(List<(string Role, string Content, string Delimiter)> messages)
    {
        var chat = new List<ChatMessage>();
        int start = 0;
        if (messages[0].Role == "system")
        {
            chat.Add(new ChatMessage("system", messages[0].Content));
            start = 1;
        }

        var text = new System.Text.StringBuilder();
        for (int i = start; i < messages.Count; i++)
            text.Append(messages[i].Content).Append(i == messages.Count - 1 ? "" : messages[i].Delimiter);
        chat.Add(new ChatMessage("user", text.ToString()));
        return chat;
    }

    /// <summary>lm-eval's maybe_delimit: prefix + delimiter + suffix unless either is empty or has whitespace at the join.</summary>
    public static string MaybeDelimit(string? prefix, string? suffix, string delimiter)
    {
        if (string.IsNullOrEmpty(prefix)) return suffix ?? "";
        if (string.IsNullOrEmpty(suffix)) return prefix;
        return char.IsWhiteSpace(prefix[^1]) || char.IsWhiteSpace(suffix[0]) ? prefix + suffix : prefix + delimiter + suffix;
    }
}
