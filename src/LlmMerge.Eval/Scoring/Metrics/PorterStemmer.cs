namespace LlmMerge.Eval.Scoring.Metrics;

/// <summary>
/// The Porter stemmer rouge_score stems with: nltk's PorterStemmer() in its default NLTK_EXTENSIONS mode
/// (nltk/stem/porter.py; rouge_score's tokenizers.py and rouge_scorer.py construct porter.PorterStemmer()), rule for
/// rule: the irregular-forms table, words of two letters or fewer unchanged, steps 1a, 1b, 1c, 2, 3, 4, 5a, 5b of
/// Porter (1980) with nltk's extensions ('ies'/'ied' of four-letter words, 'alli' first in step 2, 'fulli', the
/// 'logi' rule, y to i only after a consonant that is not the first letter, the two-letter *o condition).
/// Words are expected in lower case.
/// </summary>
public static class PorterStemmer
{
    private static readonly Dictionary<string, string> Irregular = BuildIrregular();

    private static Dictionary<string, string> BuildIrregular()
    {
        var forms = new (string Stem, string[] Words)[]
        {
            ("sky", ["sky", "skies"]), ("die", ["dying"]), ("lie", ["lying"]), ("tie", ["tying"]), ("news", ["news"]),
            ("inning", ["innings", "inning"]), ("outing", ["outings", "outing"]), ("canning", ["cannings", "canning"]),
            ("howe", ["howe"]), ("proceed", ["proceed"]), ("exceed", ["exceed"]), ("succeed", ["succeed"]),
        };
        var pool = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (stem, words) in forms)
        {
            foreach (string w in words) pool[w] = stem;
        }

        return pool;
    }

    public static string Stem(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        string stem = word.ToLowerInvariant();
        if (Irregular.TryGetValue(word, out string? irregular)) return irregular;
        if (word.Length <= 2) return stem;
        stem = Step1a(stem);
        stem = Step1b(stem);
        stem = Step1c(stem);
        stem = Step2(stem);
        stem = Step3(stem);
        stem = Step4(stem);
        stem = Step5a(stem);
        stem = Step5b(stem);
        return stem;
    }

    private static bool IsConsonant(string w, int i)
    {
        char c = w[i];
        if (c is 'a' or 'e' or 'i' or 'o' or 'u') return false;
        if (c == 'y') return i == 0 || !IsConsonant(w, i - 1);
        return true;
    }

    // m: the number of vowel-consonant sequences, [C](VC){m}[V].
    private static int Measure(string stem)
    {
        int m = 0;
        for (int i = 1; i < stem.Length; i++)
        {
            if (!IsConsonant(stem, i - 1) && IsConsonant(stem, i)) m++;
        }

        return m;
    }

    private static bool ContainsVowel(string stem)
    {
        for (int i = 0; i < stem.Length; i++)
        {
            if (!IsConsonant(stem, i)) return true;
        }

        return false;
    }

    private static bool EndsDoubleConsonant(string w) =>
        w.Length >= 2 && w[^1] == w[^2] && IsConsonant(w, w.Length - 1);

    // *o: ends consonant-vowel-consonant, the last not w, x or y; nltk also counts a two-letter vowel-consonant word.
    private static bool EndsCvc(string w) =>
        (w.Length >= 3 && IsConsonant(w, w.Length - 3) && !IsConsonant(w, w.Length - 2) && IsConsonant(w, w.Length - 1) && w[^1] is not ('w' or 'x' or 'y'))
        || (w.Length == 2 && !IsConsonant(w, 0) && IsConsonant(w, 1));

    private static string Cut(string w, string suffix) => w[..^suffix.Length];

    // nltk's _apply_rule_list: the first rule whose suffix the word ends with decides; if its condition fails, no
    // later rule is tried. The suffix "*d" stands for a double consonant.
    private static string ApplyRules(string word, (string Suffix, string Replacement, Func<string, bool>? Condition)[] rules)
    {
        foreach (var (suffix, replacement, condition) in rules)
        {
            if (suffix == "*d" && EndsDoubleConsonant(word))
            {
                string stem = word[..^2];
                return condition is null || condition(stem) ? stem + replacement : word;
            }

            if (word.EndsWith(suffix, StringComparison.Ordinal))
            {
                string stem = Cut(word, suffix);
                return condition is null || condition(stem) ? stem + replacement : word;
            }
        }

        return word;
    }

    private static bool PositiveMeasure(string stem) => Measure(stem) > 0;

    private static string Step1a(string word)
    {
        if (word.EndsWith("ies", StringComparison.Ordinal) && word.Length == 4) return Cut(word, "ies") + "ie";
        return ApplyRules(word, [("sses", "ss", null), ("ies", "i", null), ("ss", "ss", null), ("s", "", null)]);
    }

    private static string Step1b(string word)
    {
        if (word.EndsWith("ied", StringComparison.Ordinal))
            return word.Length == 4 ? Cut(word, "ied") + "ie" : Cut(word, "ied") + "i";
        if (word.EndsWith("eed", StringComparison.Ordinal))
        {
            string stem = Cut(word, "eed");
            return Measure(stem) > 0 ? stem + "ee" : word;
        }

        string? intermediate = null;
        foreach (string suffix in new[] { "ed", "ing" })
        {
            if (word.EndsWith(suffix, StringComparison.Ordinal))
            {
                string stem = Cut(word, suffix);
                if (ContainsVowel(stem))
                {
                    intermediate = stem;
                    break;
                }
            }
        }

        if (intermediate is null) return word;
        if (intermediate.Length == 0) return intermediate;
        char last = intermediate[^1];
        return ApplyRules(intermediate,
        [
            ("at", "ate", null),
            ("bl", "ble", null),
            ("iz", "ize", null),
            ("*d", last.ToString(), _ => last is not ('l' or 's' or 'z')),
            ("", "e", stem => Measure(stem) == 1 && EndsCvc(stem)),
        ]);
    }

    private static string Step1c(string word) =>
        ApplyRules(word, [("y", "i", stem => stem.Length > 1 && IsConsonant(stem, stem.Length - 1))]);

    private static string Step2(string word)
    {
        if (word.EndsWith("alli", StringComparison.Ordinal) && PositiveMeasure(Cut(word, "alli")))
            return Step2(Cut(word, "alli") + "al");
        return ApplyRules(word,
        [
            ("ational", "ate", PositiveMeasure),
            ("tional", "tion", PositiveMeasure),
            ("enci", "ence", PositiveMeasure),
            ("anci", "ance", PositiveMeasure),
            ("izer", "ize", PositiveMeasure),
            ("bli", "ble", PositiveMeasure),
            ("alli", "al", PositiveMeasure),
            ("entli", "ent", PositiveMeasure),
            ("eli", "e", PositiveMeasure),
            ("ousli", "ous", PositiveMeasure),
            ("ization", "ize", PositiveMeasure),
            ("ation", "ate", PositiveMeasure),
            ("ator", "ate", PositiveMeasure),
            ("alism", "al", PositiveMeasure),
            ("iveness", "ive", PositiveMeasure),
            ("fulness", "ful", PositiveMeasure),
            ("ousness", "ous", PositiveMeasure),
            ("aliti", "al", PositiveMeasure),
            ("iviti", "ive", PositiveMeasure),
            ("biliti", "ble", PositiveMeasure),
            ("fulli", "ful", PositiveMeasure),
            // The 'l' of 'logi' stays with the stem, so short stems such as 'geo' and 'theo' count as 'archaeo' does.
            ("logi", "log", _ => PositiveMeasure(word[..^3])),
        ]);
    }

    private static string Step3(string word) => ApplyRules(word,
    [
        ("icate", "ic", PositiveMeasure),
        ("ative", "", PositiveMeasure),
        ("alize", "al", PositiveMeasure),
        ("iciti", "ic", PositiveMeasure),
        ("ical", "ic", PositiveMeasure),
        ("ful", "", PositiveMeasure),
        ("ness", "", PositiveMeasure),
    ]);

    private static string Step4(string word)
    {
        static bool Gt1(string stem) => Measure(stem) > 1;
        return ApplyRules(word,
        [
            ("al", "", Gt1), ("ance", "", Gt1), ("ence", "", Gt1), ("er", "", Gt1), ("ic", "", Gt1), ("able", "", Gt1),
            ("ible", "", Gt1), ("ant", "", Gt1), ("ement", "", Gt1), ("ment", "", Gt1), ("ent", "", Gt1),
            ("ion", "", stem => Measure(stem) > 1 && stem.Length > 0 && stem[^1] is 's' or 't'),
            ("ou", "", Gt1), ("ism", "", Gt1), ("ate", "", Gt1), ("iti", "", Gt1), ("ous", "", Gt1), ("ive", "", Gt1),
            ("ize", "", Gt1),
        ]);
    }

    // Both (m>1) E and (m=1 and not *o) E are tried, unlike the first-suffix-decides rule of the other steps.
    private static string Step5a(string word)
    {
        if (!word.EndsWith('e')) return word;
        string stem = word[..^1];
        int m = Measure(stem);
        return m > 1 || (m == 1 && !EndsCvc(stem)) ? stem : word;
    }

    private static string Step5b(string word) =>
        ApplyRules(word, [("ll", "l", _ => Measure(word[..^1]) > 1)]);
}
