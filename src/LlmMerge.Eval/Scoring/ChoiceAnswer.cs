namespace LlmMerge.Eval.Scoring;

/// <summary>
/// llmmerge's reading of a generated answer as a choice (for generate_until tasks with doc_to_choice, such as a
/// chain-of-thought multiple-choice task): the first choice whose text equals the answer (both stripped), else a
/// single letter A, B, C... (optionally in parentheses) naming a choice by position; otherwise none.
/// </summary>
public static class ChoiceAnswer
{
    /// <summary>The 0-based choice <paramref name="answer"/> names, or null.</summary>
    public static int? Index(string answer, IReadOnlyList<string> choices)
    {
        ArgumentNullException.ThrowIfNull(answer);
        ArgumentNullException.ThrowIfNull(choices);
        string a = answer.Trim();
        for (int i = 0; i < choices.Count; i++)
        {
            if (string.Equals(choices[i].Trim(), a, StringComparison.Ordinal)) return i;
        }

        string letter = a.Length == 3 && a[0] == '(' && a[2] == ')' ? a[1..2] : a;
        if (letter.Length == 1 && letter[0] is >= 'A' and <= 'Z' && letter[0] - 'A' < choices.Count) return letter[0] - 'A';
        return null;
    }
}
