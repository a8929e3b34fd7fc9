namespace LlmMerge.Zoo.Skills;

/// <summary>A skill the zoo teaches one expert: a generator of multiple-choice items over disjoint splits.</summary>
public interface ISkill
{
    /// <summary>The task name (<c>arithmetic</c>, <c>world_facts</c>, ...).</summary>
    string Name { get; }

    /// <summary>Number of choices of every item; chance accuracy is its inverse.</summary>
    int ChoiceCount { get; }

    /// <summary>Draws an item of <paramref name="split"/>; train, validation and test items never coincide.</summary>
    SkillItem Draw(Random rng, ItemSplit split);

    /// <summary>
    /// Extra pretraining text that teaches the skill's vocabulary and formats without its answers (for example the
    /// invented world's names in sentences whose facts are drawn at random).
    /// </summary>
    string DrawFiller(Random rng) => string.Empty;

    /// <summary>
    /// A question of <paramref name="split"/> with an answer that carries no information about the right one. By
    /// default a choice drawn uniformly, which is uninformative only when every item offers the same kinds of
    /// choices; skills whose choice sets always contain the right answer among varying distractors override it,
    /// or the right answer would be the most frequent one and the base would learn it.
    /// </summary>
    string DrawUninformed(Random rng, ItemSplit split)
    {
        var item = Draw(rng, split);
        return item.WithChoice(rng.Next(item.Choices.Count));
    }
}
