namespace LlmMerge.Zoo.Skills;

/// <summary>
/// Two-digit addition (10..49 + 10..49). One distractor is off by one or by ten, so both digits must be right; two
/// more lie within 15 of the sum. Above and below the sum alike, so a model that ignores the question (the base)
/// finds the sum anywhere among the choices' order by size and scores near chance whatever numbers it prefers.
/// </summary>
public sealed class ArithmeticSkill : ISkill
{
    public string Name => "arithmetic";

    public int ChoiceCount => 4;

    public SkillItem Draw(Random rng, ItemSplit split)
    {
        int key = SplitHash.Draw(rng, split, r => r.Next(10, 50) * 100 + r.Next(10, 50));
        int a = key / 100, b = key % 100, sum = a + b;
        // Every choice a possible sum (20..98), so none gives itself away by its number of digits.
        int[] nearMisses = [.. new[] { sum - 10, sum - 1, sum + 1, sum + 10 }.Where(Possible)];
        int near = nearMisses[rng.Next(nearMisses.Length)];
        var others = Enumerable.Range(sum - 15, 31).Where(n => Possible(n) && n != sum && n != near).OrderBy(_ => rng.Next()).Take(2);
        var wrong = others.Prepend(near).Select(Text);
        var (choices, answer) = SplitHash.Shuffle(rng, Text(sum), wrong);
        return new SkillItem($"Question: What is {a} plus {b}?\nAnswer:", choices, answer);
    }

    /// <summary>
    /// Any possible sum (20..98), uniformly. Not the sum and its near misses in equal shares: their digits would
    /// still say which is right (the sum's tens and units digits are each the most common), and a base learning
    /// digit by digit would pick it.
    /// </summary>
    public string DrawUninformed(Random rng, ItemSplit split) => Draw(rng, split).Prompt + " " + Text(rng.Next(20, 99));

    private static bool Possible(int n) => n is >= 20 and <= 98;

    private static string Text(int n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
