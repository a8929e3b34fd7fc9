using System.Globalization;
using LlmMerge.Core;

namespace LlmMerge.Engine.Methods;

/// <summary>Converts evaluated YAML values to the types methods need, naming the parameter when they do not fit.</summary>
public static class ParameterValues
{
    public static double ToDouble(object? v, string name) => v switch
    {
        double d => d,
        int i => i,
        long l => l,
        float f => f,
        bool b => b ? 1 : 0,
        string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => throw new LlmMergeException($"parameter '{name}' must be a number (got '{v}')"),
    };

    public static bool ToBool(object? v, string name) => v switch
    {
        bool b => b,
        double d => d != 0,
        string s when bool.TryParse(s, out var b) => b,
        _ => throw new LlmMergeException($"parameter '{name}' must be true or false (got '{v}')"),
    };
}
