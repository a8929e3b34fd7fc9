using System.Globalization;
using LlmMerge.Contracts.Methods;
using LlmMerge.Engine.Methods;

namespace LlmMerge.Tests.Merging;

/// <summary>
/// The Build layer checks graphs against LlmMerge.Contracts' method descriptors; the engine runs MergeMethodRegistry's
/// methods. The two must agree on every method, whether it needs a base, and every parameter (per model or not,
/// required or not, default).
/// </summary>
public class MethodDescriptorTests
{
    internal static List<string> Differences(IEnumerable<IMergeMethod> engine, IEnumerable<MethodDescriptor> descriptors)
    {
        var problems = new List<string>();
        var methods = engine.ToDictionary(m => m.Name, StringComparer.Ordinal);
        var described = descriptors.ToDictionary(d => d.Name, StringComparer.Ordinal);
        foreach (string name in methods.Keys.Except(described.Keys))
            problems.Add($"method '{name}' is registered in the engine but has no descriptor in LlmMerge.Contracts");
        foreach (string name in described.Keys.Except(methods.Keys))
            problems.Add($"method '{name}' has a descriptor but the engine does not register it");
        foreach (var (name, method) in methods)
        {
            if (!described.TryGetValue(name, out var d))
                continue;
            if (method.RequiresBaseModel != d.NeedsBase)
                problems.Add($"{name}: the engine says base required = {method.RequiresBaseModel}, the descriptor {d.NeedsBase}");
            var engineParameters = method.Parameters.Select(p => (p, PerModel: false)).Concat(method.TensorParameters.Select(p => (p, PerModel: true)))
                .ToDictionary(x => x.p.Name, StringComparer.Ordinal);
            foreach (string p in engineParameters.Keys.Except(d.Parameters.Select(x => x.Name)))
                problems.Add($"{name}: parameter '{p}' exists in the engine only");
            foreach (string p in d.Parameters.Select(x => x.Name).Except(engineParameters.Keys))
                problems.Add($"{name}: parameter '{p}' exists in the descriptor only");
            foreach (var dp in d.Parameters)
            {
                if (!engineParameters.TryGetValue(dp.Name, out var ep))
                    continue;
                if (ep.PerModel != dp.PerModel)
                    problems.Add($"{name}.{dp.Name}: per model in the engine = {ep.PerModel}, in the descriptor {dp.PerModel}");
                if (ep.p.Required != dp.Required)
                    problems.Add($"{name}.{dp.Name}: required in the engine = {ep.p.Required}, in the descriptor {dp.Required}");
                if (Text(ep.p.Default) != Text(dp.Default))
                    problems.Add($"{name}.{dp.Name}: default {Text(ep.p.Default)} in the engine, {Text(dp.Default)} in the descriptor");
                if (dp.Kind == ParameterKind.Boolean != ep.p.Default is bool && ep.p.Default is not null)
                    problems.Add($"{name}.{dp.Name}: the descriptor's kind {dp.Kind} does not fit the engine's default {Text(ep.p.Default)}");
            }
        }
        return problems;
    }

    private static string Text(object? v) => v switch
    {
        null => "none",
        bool b => b ? "true" : "false",
        IConvertible c => Convert.ToDouble(c, CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    [Test]
    public void TheEngineAndTheDescriptorsAgree() =>
        Assert.That(Differences(MergeMethodRegistry.Names.Select(MergeMethodRegistry.Get), MethodDescriptors.All), Is.Empty);

    [Test]
    public void AMethodOrParameterOnOneSideOnlyIsReported()
    {
        var engine = MergeMethodRegistry.Names.Select(MergeMethodRegistry.Get).ToList();
        var descriptors = MethodDescriptors.All.ToList();

        var withoutTies = descriptors.Where(d => d.Name != "ties").ToList();
        Assert.That(Differences(engine, withoutTies), Has.One.Contains("'ties' is registered in the engine but has no descriptor"));

        var extra = descriptors.Append(new MethodDescriptor("brand_new", false, [])).ToList();
        Assert.That(Differences(engine, extra), Has.One.Contains("'brand_new' has a descriptor but the engine does not register it"));

        var slerp = descriptors.Single(d => d.Name == "slerp");
        var moreSlerp = descriptors.Select(d => d == slerp ? d with { Parameters = [.. d.Parameters, ParameterDescriptor.Flag("extra", false)] } : d).ToList();
        Assert.That(Differences(engine, moreSlerp), Has.One.Contains("slerp: parameter 'extra' exists in the descriptor only"));

        var ties = descriptors.Single(d => d.Name == "ties");
        var fewerTies = descriptors.Select(d => d == ties ? d with { Parameters = d.Parameters.Where(p => p.Name != "int8_mask").ToList() } : d).ToList();
        Assert.That(Differences(engine, fewerTies), Has.One.Contains("ties: parameter 'int8_mask' exists in the engine only"));

        var wrongDefault = descriptors.Select(d => d == ties ? d with { Parameters = d.Parameters.Select(p => p.Name == "normalize" ? p with { Default = false } : p).ToList() } : d).ToList();
        Assert.That(Differences(engine, wrongDefault), Has.One.Contains("ties.normalize: default true in the engine, false in the descriptor"));
    }
}
