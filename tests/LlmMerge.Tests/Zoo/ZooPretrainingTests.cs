using LlmMerge.Zoo.Skills;

namespace LlmMerge.Tests.Zoo;

/// <summary>The base must not learn the skills from pretraining: its answers carry no information about the right one.</summary>
public class ZooPretrainingTests
{
    [Test]
    public void PretrainingAnswersDoNotFavourTheRightOne()
    {
        var rng = new Random(11);
        var arithmetic = new ArithmeticSkill();
        int right = 0, n = 20000;
        for (int i = 0; i < n; i++)
        {
            string text = ((ISkill)arithmetic).DrawUninformed(rng, ItemSplit.Train);
            var nums = System.Text.RegularExpressions.Regex.Matches(text, @"\d+").Select(m => int.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            if (nums[2] == nums[0] + nums[1]) right++;
        }
        // Any of 79 sums; a uniformly drawn choice would give the right sum 1/4 and each near miss 3/16.
        Assert.That(right / (double)n, Is.LessThan(0.03));

        var facts = new WorldFactsSkill();
        var world = new InventedWorld();
        int factRight = 0;
        for (int i = 0; i < n; i++)
        {
            string text = ((ISkill)facts).DrawUninformed(rng, ItemSplit.Train);
            string answer = text[(text.LastIndexOf("Answer: ", StringComparison.Ordinal) + 8)..];
            if (world.Countries.Any(c => text.Contains(" " + c.Country, StringComparison.Ordinal) && (c.Capital == answer || c.River == answer)))
                factRight++;
        }
        Assert.That(factRight / (double)n, Is.LessThan(0.05), "a random country's fact is the right one about 1/40 of the time");
    }
}
