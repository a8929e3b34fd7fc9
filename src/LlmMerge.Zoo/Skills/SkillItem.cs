namespace LlmMerge.Zoo.Skills;

/// <summary>One multiple-choice item: the prompt, its choices (scored after a single space), and the index of the right one.</summary>
public sealed record SkillItem(string Prompt, IReadOnlyList<string> Choices, int Answer)
{
    /// <summary>The text a model is trained on: the prompt and the given choice, as the scorer joins them.</summary>
    public string WithChoice(int choice) => Prompt + " " + Choices[choice];
}
