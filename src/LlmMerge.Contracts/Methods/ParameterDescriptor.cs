using System.Globalization;

namespace LlmMerge.Contracts.Methods;

/// <summary>
/// One parameter of a merge method under mergekit's name: whether it is read per model (<c>weight</c>, <c>density</c>)
/// or once per tensor (<c>normalize</c>, <c>t</c>), its kind, default (null when it has none), and the range its
/// numbers must lie in.
/// </summary>
public sealed record ParameterDescriptor(string Name, ParameterKind Kind, bool PerModel, object? Default = null, bool Required = false, double? Min = null, double? Max = null)
{
    public static ParameterDescriptor Number(string name, double? @default = null, double? min = null, double? max = null, bool perModel = false, bool required = false) =>
        new(name, ParameterKind.Number, perModel, @default, required, min, max);

    public static ParameterDescriptor Integer(string name, int @default) => new(name, ParameterKind.Number, false, @default);

    public static ParameterDescriptor Flag(string name, bool @default) => new(name, ParameterKind.Boolean, false, @default);

    public bool HasRange => Min is not null || Max is not null;

    /// <summary>"[0, 1]" for messages.</summary>
    public string RangeText => $"[{(Min ?? double.NegativeInfinity).ToString(CultureInfo.InvariantCulture)}, {(Max ?? double.PositiveInfinity).ToString(CultureInfo.InvariantCulture)}]";

    /// <summary>Whether <paramref name="value"/> lies in the parameter's range.</summary>
    public bool InRange(double value) => (Min is not double lo || value >= lo) && (Max is not double hi || value <= hi);
}
