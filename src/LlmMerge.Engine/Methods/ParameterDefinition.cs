namespace LlmMerge.Engine.Methods;

/// <summary>A parameter a merge method reads, with mergekit's name and default; required ones have no default.</summary>
public sealed record ParameterDefinition(string Name, bool Required = false, object? Default = null);
