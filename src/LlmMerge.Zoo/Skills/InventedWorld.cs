namespace LlmMerge.Zoo.Skills;

/// <summary>Countries with a capital and a river, with made-up names, the same for every seed so tasks stay fixed.</summary>
public sealed class InventedWorld
{
    private static readonly string[] Onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "st", "th", "tr"];
    private static readonly string[] Vowels = ["a", "e", "i", "o", "u", "ai", "ei", "ou"];
    private static readonly string[] Codas = ["", "", "n", "r", "l", "s", "th", "m"];

    public IReadOnlyList<(string Country, string Capital, string River)> Countries { get; }

    public InventedWorld(int count = 40)
    {
        // A fixed seed of its own: the world is part of the task definition, not of the training run.
        var rng = new Random(20241206);
        var used = new HashSet<string>(StringComparer.Ordinal);
        string Name(int syllables, string suffix)
        {
            while (true)
            {
                var s = string.Concat(Enumerable.Range(0, syllables).Select(_ => Onsets[rng.Next(Onsets.Length)] + Vowels[rng.Next(Vowels.Length)] + Codas[rng.Next(Codas.Length)])) + suffix;
                s = char.ToUpperInvariant(s[0]) + s[1..];
                if (used.Add(s))
                    return s;
            }
        }

        Countries = Enumerable.Range(0, count).Select(_ => (Name(2, "ia"), Name(2, ""), Name(1, "a"))).ToList();
    }
}
