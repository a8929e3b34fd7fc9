namespace LlmMerge.Engine.Methods;

/// <summary>
/// A parameter a merge method reads, with mergekit's name and default; required ones have no default. A list
/// parameter (<paramref name="IsList"/>, e.g. tsv's <c>exclude</c>) takes a YAML list as one value, an
/// <c>object[]</c>, where mergekit's parameters spread a list over the layers.
/// </summary>
public sealed record ParameterDefinition(string Name, bool Required = false, object? Default = null, bool IsList = false);
