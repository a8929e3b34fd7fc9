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
}
