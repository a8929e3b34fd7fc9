namespace LlmMerge.Zoo.Skills;

/// <summary>Assigns an item key to a split by a fixed hash, so splits are disjoint and stable whatever the seed.</summary>
internal static class SplitHash
{
    /// <summary>About 80 % train, 10 % validation, 10 % test.</summary>
    public static ItemSplit Of(int key)
    {
        // A multiplicative hash spreads neighbouring keys (e.g. 23+45 and 23+46) over the splits.
        uint h = unchecked((uint)key * 2654435761u);
        h ^= h >> 16;
        int bucket = (int)(h % 10);
        return bucket == 0 ? ItemSplit.Validation : bucket == 1 ? ItemSplit.Test : ItemSplit.Train;
    }

    /// <summary>Draws keys until one lands in <paramref name="split"/>.</summary>
    public static int Draw(Random rng, ItemSplit split, Func<Random, int> key)
    {
        while (true)
        {
            int k = key(rng);
            if (Of(k) == split)
                return k;
        }
    }

    /// <summary>Puts the right answer among the distractors at a random place; returns the choices and its index.</summary>
    public static (List<string> Choices, int Answer) Shuffle(Random rng, string right, IEnumerable<string> wrong)
    {
        var choices = wrong.Prepend(right).ToList();
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(choices));
        return (choices, choices.IndexOf(right));
    }
}
