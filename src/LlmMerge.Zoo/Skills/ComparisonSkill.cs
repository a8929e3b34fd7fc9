namespace LlmMerge.Zoo.Skills;

/// <summary>
/// Which of two two-digit numbers is larger, or smaller; the choices keep the order of the question. Asking both
/// ways makes a preference for some numbers (which a model that ignores the question may still have) right as
/// often as wrong.
/// </summary>
public sealed class ComparisonSkill : ISkill
{
    public string Name => "comparison";

    public int ChoiceCount => 2;

    public SkillItem Draw(Random rng, ItemSplit split)
    {
        int key = SplitHash.Draw(rng, split, r =>
        {
            int a = r.Next(10, 100), b = r.Next(10, 99);
            return a * 100 + (b >= a ? b + 1 : b);
        });
        int x = key / 100, y = key % 100;
        string xs = x.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string ys = y.ToString(System.Globalization.CultureInfo.InvariantCulture);
        bool larger = rng.Next(2) == 0;
        return new SkillItem($"Question: Which number is {(larger ? "larger" : "smaller")}, {xs} or {ys}?\nAnswer:", [xs, ys], (x > y) == larger ? 0 : 1);
    }
}
