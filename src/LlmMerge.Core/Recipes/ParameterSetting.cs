using System.Globalization;

namespace LlmMerge.Core.Recipes;

/// <summary>
/// A parameter value as mergekit's YAML allows it: a scalar, a gradient (a list of numbers interpolated over the
/// layer index), or a list of <c>{filter, value}</c> conditions where the first whose filter matches the tensor
/// name wins.
/// </summary>
public abstract record ParameterSetting
{
    /// <summary>Evaluates the setting for one tensor at relative depth t in [0, 1]; null where no condition matches.</summary>
    public abstract object? Evaluate(string tensorName, double t);

    public sealed record Scalar(object Value) : ParameterSetting
    {
        public override object? Evaluate(string tensorName, double t) => Value;

        public override string ToString() => Convert.ToString(Value, CultureInfo.InvariantCulture) ?? "";
    }

    /// <summary>Numbers spread evenly over the layers; values between anchors are interpolated linearly, as mergekit does.</summary>
    public sealed record Gradient(double[] Values) : ParameterSetting
    {
        public override object? Evaluate(string tensorName, double t)
        {
            double scaled = t * (Values.Length - 1);
            int i0 = (int)Math.Floor(scaled);
            int i1 = Math.Min(Values.Length - 1, i0 + 1);
            double frac = scaled - i0;
            return (1 - frac) * Values[i0] + frac * Values[i1];
        }

        public override string ToString() => "[" + string.Join(", ", Values.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]";
    }

    /// <summary>A list of non-numeric scalars picks an entry by depth without interpolation, as mergekit does.</summary>
    public sealed record Steps(object[] Values) : ParameterSetting
    {
        public override object? Evaluate(string tensorName, double t) => Values[(int)(t * (Values.Length - 1))];
    }

    public sealed record Conditional(IReadOnlyList<(string? Filter, ParameterSetting Value)> Conditions) : ParameterSetting
    {
        public override object? Evaluate(string tensorName, double t)
        {
            foreach (var (filter, value) in Conditions)
            {
                if (filter is null || filter == "*" || (tensorName.Length > 0 && tensorName.Contains(filter, StringComparison.Ordinal)))
                    return value.Evaluate(tensorName, t);
            }
            return null;
        }
    }
}
