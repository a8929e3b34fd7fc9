namespace LlmMerge.Zoo.Skills;

/// <summary>Which part of a skill's item space an item comes from; the parts never share an item.</summary>
public enum ItemSplit
{
    Train,
    Validation,
    Test,
}
