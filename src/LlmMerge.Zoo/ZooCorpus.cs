using LlmMerge.Zoo.Skills;

namespace LlmMerge.Zoo;

/// <summary>The texts the zoo trains on: pretraining text that has every skill's formats but random answers, and each skill's answered items.</summary>
public static class ZooCorpus
{
    /// <summary>
    /// One pretraining document: a skill's question (any split's wording, so every format is known) followed by an
    /// answer that says nothing of the right one (<see cref="ISkill.DrawUninformed"/>), or a statement of random facts. The base learns what an answer looks like, not which
    /// answer is right, so it scores near chance on every skill.
    /// </summary>
    public static ZooDocument Pretraining(Random rng)
    {
        var skill = SkillCatalog.All[rng.Next(SkillCatalog.All.Count)];
        string filler = skill.DrawFiller(rng);
        if (filler.Length > 0 && rng.Next(3) == 0)
            return new ZooDocument(filler, null);
        return new ZooDocument(skill.DrawUninformed(rng, (ItemSplit)rng.Next(3)), null);
    }

    /// <summary>One fine-tuning document of <paramref name="skill"/>: a training item with its right answer, or a true statement of facts.</summary>
    public static ZooDocument FineTuning(ISkill skill, Random rng)
    {
        if (skill is WorldFactsSkill facts && rng.Next(2) == 0)
            return new ZooDocument(facts.Statement(rng, truthful: true), null);
        var item = skill.Draw(rng, ItemSplit.Train);
        return new ZooDocument(item.WithChoice(item.Answer), item.Prompt);
    }

    /// <summary>Text for training the tokenizer: pretraining documents with digits removed, so numbers stay one token per digit and arithmetic can be learned digit by digit.</summary>
    public static IEnumerable<string> TokenizerCorpus(int seed, int documents)
    {
        var rng = new Random(seed);
        for (int i = 0; i < documents; i++)
            yield return new string(Pretraining(rng).Text.Where(c => !char.IsAsciiDigit(c)).ToArray());
    }
}
