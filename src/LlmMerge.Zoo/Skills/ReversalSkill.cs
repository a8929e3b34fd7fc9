namespace LlmMerge.Zoo.Skills;

/// <summary>
/// Reverse four distinct letters; the distractors are three other orders of the same letters, drawn at random. Not
/// fixed kinds of distractor (the original order, near-reversals): a base that prefers one kind, as a model that
/// has seen every kind equally often still may, would score far from chance.
/// </summary>
public sealed class ReversalSkill : ISkill
{
    private const int Length = 4;

    public string Name => "reversal";

    public int ChoiceCount => 4;

    public SkillItem Draw(Random rng, ItemSplit split)
    {
        int key = SplitHash.Draw(rng, split, r =>
        {
            var letters = Enumerable.Range(0, 26).OrderBy(_ => r.Next()).Take(Length).ToArray();
            return letters.Aggregate(0, (k, l) => k * 26 + l);
        });
        var word = new char[Length];
        for (int i = Length - 1; i >= 0; i--, key /= 26)
            word[i] = (char)('a' + key % 26);
        char[] rev = word.Reverse().ToArray();
        var wrong = Permutations(word).Select(Spaced).Where(p => p != Spaced(rev)).OrderBy(_ => rng.Next()).Take(3);
        var (choices, answer) = SplitHash.Shuffle(rng, Spaced(rev), wrong);
        return new SkillItem($"Question: Reverse the letters {Spaced(word)}.\nAnswer:", choices, answer);
    }

    /// <summary>The question with any order of its letters, each of the 24 equally often, the reversal among them.</summary>
    public string DrawUninformed(Random rng, ItemSplit split)
    {
        var item = Draw(rng, split);
        var letters = item.Choices[item.Answer].Split(' ').Select(l => l[0]).ToArray();
        rng.Shuffle(letters);
        return item.Prompt + " " + Spaced(letters);
    }

    private static IEnumerable<char[]> Permutations(char[] letters) =>
        letters.Length <= 1 ? [letters]
            : letters.SelectMany((c, i) => Permutations([.. letters[..i], .. letters[(i + 1)..]]).Select(rest => (char[])[c, .. rest]));

    private static string Spaced(char[] letters) => string.Join(' ', letters);
}
