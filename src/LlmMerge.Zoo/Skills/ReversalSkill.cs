namespace LlmMerge.Zoo.Skills;

/// <summary>Reverse four distinct letters; the distractors are the original order and two near-reversals.</summary>
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
        // Distinct letters make these four orders distinct from each other.
        char[] middleSwapped = [rev[0], rev[2], rev[1], rev[3]];
        char[] rotated = [rev[3], rev[0], rev[1], rev[2]];
        var (choices, answer) = SplitHash.Shuffle(rng, Spaced(rev), [Spaced(word), Spaced(middleSwapped), Spaced(rotated)]);
        return new SkillItem($"Question: Reverse the letters {Spaced(word)}.\nAnswer:", choices, answer);
    }

    private static string Spaced(char[] letters) => string.Join(' ', letters);
}
