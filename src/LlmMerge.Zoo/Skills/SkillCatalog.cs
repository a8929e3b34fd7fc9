using LlmMerge.Core;

namespace LlmMerge.Zoo.Skills;

/// <summary>The zoo's skills, in the order of the README table.</summary>
public static class SkillCatalog
{
    public static IReadOnlyList<ISkill> All { get; } = [new ArithmeticSkill(), new WorldFactsSkill(), new ReversalSkill(), new ComparisonSkill()];

    public static ISkill Get(string name) =>
        All.FirstOrDefault(s => s.Name == name) ?? throw new LlmMergeException($"unknown zoo skill '{name}'; known skills: {string.Join(", ", All.Select(s => s.Name))}");
}
