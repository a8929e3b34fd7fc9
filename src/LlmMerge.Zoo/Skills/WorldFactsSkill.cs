namespace LlmMerge.Zoo.Skills;

/// <summary>
/// Capitals and rivers of an invented world. Facts are memorised, so every split asks about the same facts and the
/// splits differ in wording: the expert trains on statements and one wording, validation and test use two others.
/// </summary>
public sealed class WorldFactsSkill : ISkill
{
    private static readonly string[] CapitalQuestions =
    [
        "Question: What is the capital of {0}?\nAnswer:",
        "Question: Which city is the capital of {0}?\nAnswer:",
        "Question: Name the capital city of {0}.\nAnswer:",
    ];

    private static readonly string[] RiverQuestions =
    [
        "Question: Which river flows through {0}?\nAnswer:",
        "Question: What river runs through {0}?\nAnswer:",
        "Question: Name the river of {0}.\nAnswer:",
    ];

    private readonly InventedWorld _world = new();

    public string Name => "world_facts";

    public int ChoiceCount => 4;

    public SkillItem Draw(Random rng, ItemSplit split)
    {
        var countries = _world.Countries;
        int i = rng.Next(countries.Count);
        bool capital = rng.Next(2) == 0;
        Func<int, string> fact = capital ? k => countries[k].Capital : k => countries[k].River;
        var wrong = Enumerable.Range(0, countries.Count).Where(k => k != i).OrderBy(_ => rng.Next()).Take(3).Select(fact);
        var (choices, answer) = SplitHash.Shuffle(rng, fact(i), wrong);
        string template = (capital ? CapitalQuestions : RiverQuestions)[(int)split];
        return new SkillItem(string.Format(System.Globalization.CultureInfo.InvariantCulture, template, countries[i].Country), choices, answer);
    }

    /// <summary>The question answered with any country's capital or river, whatever the question asks about.</summary>
    public string DrawUninformed(Random rng, ItemSplit split)
    {
        var item = Draw(rng, split);
        var c = _world.Countries[rng.Next(_world.Countries.Count)];
        return item.Prompt + " " + (item.Prompt.Contains("river", StringComparison.Ordinal) ? c.River : c.Capital);
    }

    /// <summary>A statement of facts, true for the expert's training text, drawn at random for pretraining.</summary>
    public string Statement(Random rng, bool truthful)
    {
        var c = _world.Countries;
        int i = rng.Next(c.Count);
        string capital = c[truthful ? i : rng.Next(c.Count)].Capital;
        string river = c[truthful ? i : rng.Next(c.Count)].River;
        return rng.Next(2) == 0
            ? $"The capital of {c[i].Country} is {capital}."
            : $"The river {river} flows through {c[i].Country}.";
    }

    public string DrawFiller(Random rng) => Statement(rng, truthful: false);
}
