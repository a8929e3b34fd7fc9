using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmMerge.Zoo.Skills;

namespace LlmMerge.Zoo;

/// <summary>Writes a skill's validation and test items as JSON lines (for task YAML files) and as the competition's CSV.</summary>
public static class TaskFiles
{
    /// <summary>Draws up to <paramref name="count"/> items with distinct prompts from <paramref name="split"/>; fewer when the split has fewer (memorised facts).</summary>
    public static List<SkillItem> Items(ISkill skill, ItemSplit split, int count, int seed)
    {
        var rng = new Random(seed);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var items = new List<SkillItem>();
        for (int attempts = 0; items.Count < count && attempts < count * 50; attempts++)
        {
            var item = skill.Draw(rng, split);
            if (seen.Add(item.Prompt))
                items.Add(item);
        }
        return items;
    }

    /// <summary>One JSON object per line: <c>id</c>, <c>question</c>, <c>choices</c>, <c>answer</c> (0-based).</summary>
    public static void WriteJsonl(string path, IReadOnlyList<SkillItem> items)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < items.Count; i++)
            sb.Append(JsonSerializer.Serialize(new { id = i, question = items[i].Prompt, choices = items[i].Choices, answer = items[i].Answer })).Append('\n');
        WriteAtomically(path, sb.ToString());
    }

    /// <summary>The competition's format: <c>id,input,target,answer_choices,eval_type</c>, choices as a Python list literal.</summary>
    public static void WriteCompetitionCsv(string path, IReadOnlyList<SkillItem> items)
    {
        var sb = new StringBuilder("id,input,target,answer_choices,eval_type\n");
        for (int i = 0; i < items.Count; i++)
        {
            string choices = "[" + string.Join(", ", items[i].Choices.Select(c => "'" + c.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'")) + "]";
            sb.Append(i.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(Quote(items[i].Prompt)).Append(',')
              .Append(items[i].Answer.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(Quote(choices)).Append(",multiple_choice\n");
        }
        WriteAtomically(path, sb.ToString());
    }

    private static string Quote(string s) => "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    internal static void WriteAtomically(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, text, new UTF8Encoding(false));
        File.Move(tmp, path, overwrite: true);
    }
}
