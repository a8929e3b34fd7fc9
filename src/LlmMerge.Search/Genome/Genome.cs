using System.Globalization;
using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Search.Genome;

/// <summary>
/// mergekit-evolve's genome (mergekit/evo/genome.py ModelGenome at a6e40288): a genotype is a flat vector viewed as
/// [layer groups, models, parameter sets (one per filter, then the rest), tuned parameters], and becomes a merge
/// recipe: per layer group a slice whose sources carry each model's values (or, with <c>smooth</c>, one gradient
/// per model over the groups); densities are |x| clamped to [0, 1], weights |x| unless negative weights are allowed;
/// slerp takes the two models of largest weight per group and t = softmax of those two weights' second entry.
/// The recipe is written with mergekit's global parameters (normalize, int8_mask: true, dtype: bfloat16), keys
/// sorted as its YAML dump does; parameters a method does not declare are left out, since our recipes refuse them.
/// </summary>
public sealed class Genome
{
    public Genome(GenomeDefinition definition, int numLayers)
    {
        Definition = definition;
        NumLayers = numLayers;
        Parameters = GenomeMethods.Parameters(definition.MergeMethod);
        if (definition.LayerGranularity > 0 && numLayers % definition.LayerGranularity != 0)
            throw new LlmMergeException(
                $"genome: layer_granularity {definition.LayerGranularity} does not divide the models' {numLayers} layers; use a divisor of {numLayers} ({string.Join(", ", Enumerable.Range(1, numLayers).Where(d => numLayers % d == 0))}) or 0 for one group");
        LayerGroups = definition.LayerGranularity > 0 ? numLayers / definition.LayerGranularity : 1;
    }

    public GenomeDefinition Definition { get; }

    public int NumLayers { get; }

    public int LayerGroups { get; }

    public int ParameterSets => Definition.Filters.Count + 1;

    public IReadOnlyList<string> Parameters { get; }

    /// <summary>The genotype's length: groups × models × parameter sets × tuned parameters.</summary>
    public int Dimension => LayerGroups * Definition.Models.Count * ParameterSets * Parameters.Count;

    private int Index(int group, int model, int set, int param) =>
        ((group * Definition.Models.Count + model) * ParameterSets + set) * Parameters.Count + param;

    /// <summary>
    /// mergekit's initial_genotype: weights 1/n_models and other parameters 1, or uniform [0, 1) draws with random_init.
    /// mergekit builds it as a float32 tensor, so 1/n is float32's nearest value, as here.
    /// </summary>
    public double[] InitialGenotype(Cma.CmaRandom? random = null)
    {
        var x = new double[Dimension];
        for (int i = 0; i < x.Length; i++)
        {
            if (random is not null)
                x[i] = (float)random.NextDouble();
            else
                x[i] = i % Parameters.Count == 0 ? (float)(1.0 / Definition.Models.Count) : 1;
        }
        return x;
    }

    /// <summary>The effective value of parameter <paramref name="param"/> (after abs and clamping) for a cell of the genotype.</summary>
    public double Value(IReadOnlyList<double> genotype, int group, int model, int set, int param)
    {
        double v = genotype[Index(group, model, set, param)];
        string name = Parameters[param];
        if (name == "density")
            return Math.Clamp(Math.Abs(v), 0, 1);
        if (!Definition.AllowNegativeWeights && name is "weight" or "t")
            return Math.Abs(v);
        return v;
    }

    /// <summary>The merge recipe of <paramref name="genotype"/>, naming each model by <paramref name="name"/> (a path to run, a fingerprint to hash).</summary>
    public YamlMappingNode Recipe(IReadOnlyList<double> genotype, Func<ModelReference, string> name)
    {
        if (genotype.Count != Dimension)
            throw new ArgumentException($"genotype of length {genotype.Count}; the genome has {Dimension} parameters");
        var d = Definition;
        string method = d.MergeMethod;
        var root = new YamlMappingNode();
        if (d.BaseModel is not null) root.Add("base_model", name(d.BaseModel));
        root.Add("dtype", "bfloat16");
        root.Add("merge_method", method);
        if (method != "slerp" && d.Smooth)
            root.Add("models", SmoothModels(genotype, name));

        var globals = new YamlMappingNode();
        if (GenomeMethods.Takes(method, "int8_mask")) globals.Add("int8_mask", "true");
        bool normalize = d.Normalize ?? method is "ties" or "dare_ties" or "linear";
        if (GenomeMethods.Takes(method, "normalize")) globals.Add("normalize", normalize ? "true" : "false");
        if (globals.Children.Count > 0) root.Add("parameters", globals);
        if (method == "slerp")
            root.Add("slices", SlerpSlices(genotype, name));
        else if (!d.Smooth)
            root.Add("slices", DiscreteSlices(genotype, name));
        if (d.TokenizerSource is not null) root.Add("tokenizer_source", d.TokenizerSource);
        return root;
    }

    private bool BaseOutsideModels => Definition.BaseModel is { } b && !Definition.Models.Contains(b);

    private int LayerStep => Definition.LayerGranularity > 0 ? Definition.LayerGranularity : NumLayers;

    private static YamlSequenceNode Range(int start, int end) =>
        new(new YamlScalarNode(start.ToString(CultureInfo.InvariantCulture)), new YamlScalarNode(end.ToString(CultureInfo.InvariantCulture))) { Style = YamlDotNet.Core.Events.SequenceStyle.Flow };

    private YamlSequenceNode DiscreteSlices(IReadOnlyList<double> g, Func<ModelReference, string> name)
    {
        var slices = new YamlSequenceNode();
        for (int group = 0; group < LayerGroups; group++)
        {
            var sources = new YamlSequenceNode();
            for (int m = 0; m < Definition.Models.Count; m++)
            {
                var parameters = new YamlMappingNode();
                foreach (int p in SortedParameters())
                {
                    if (ParameterSets == 1)
                    {
                        parameters.Add(Parameters[p], Number(Value(g, group, m, 0, p)));
                        continue;
                    }
                    var conditions = new YamlSequenceNode();
                    for (int set = 0; set < ParameterSets; set++)
                        conditions.Add(Condition(set, Number(Value(g, group, m, set, p))));
                    parameters.Add(Parameters[p], conditions);
                }
                sources.Add(new YamlMappingNode
                {
                    { "layer_range", Range(group * LayerStep, (group + 1) * LayerStep) },
                    { "model", name(Definition.Models[m]) },
                    { "parameters", parameters },
                });
            }
            if (BaseOutsideModels)
                sources.Add(new YamlMappingNode { { "layer_range", Range(group * LayerStep, (group + 1) * LayerStep) }, { "model", name(Definition.BaseModel!) } });
            slices.Add(new YamlMappingNode { { "sources", sources } });
        }
        return slices;
    }

    private YamlSequenceNode SmoothModels(IReadOnlyList<double> g, Func<ModelReference, string> name)
    {
        var models = new YamlSequenceNode();
        for (int m = 0; m < Definition.Models.Count; m++)
        {
            var parameters = new YamlMappingNode();
            foreach (int p in SortedParameters())
            {
                YamlNode Values(int set)
                {
                    // mergekit's _unpack_single_element: one group is a scalar, several a gradient over the layers.
                    var values = Enumerable.Range(0, LayerGroups).Select(group => Value(g, group, m, set, p)).ToList();
                    return values.Count == 1 ? Number(values[0]) : new YamlSequenceNode(values.Select(Number)) { Style = YamlDotNet.Core.Events.SequenceStyle.Flow };
                }
                if (ParameterSets == 1)
                {
                    parameters.Add(Parameters[p], Values(0));
                    continue;
                }
                var conditions = new YamlSequenceNode();
                for (int set = 0; set < ParameterSets; set++) conditions.Add(Condition(set, Values(set)));
                parameters.Add(Parameters[p], conditions);
            }
            // mergekit writes layer_range [0, num_layers] here, which its models entries do not keep.
            models.Add(new YamlMappingNode { { "model", name(Definition.Models[m]) }, { "parameters", parameters } });
        }
        if (BaseOutsideModels)
            models.Add(new YamlMappingNode { { "model", name(Definition.BaseModel!) } });
        return models;
    }

    private YamlSequenceNode SlerpSlices(IReadOnlyList<double> g, Func<ModelReference, string> name)
    {
        var slices = new YamlSequenceNode();
        for (int group = 0; group < LayerGroups; group++)
        {
            var (first, second, t) = SlerpChoice(g, group);
            var sources = new YamlSequenceNode();
            foreach (int m in new[] { first, second })
                sources.Add(new YamlMappingNode { { "layer_range", Range(group * LayerStep, (group + 1) * LayerStep) }, { "model", name(Definition.Models[m]) } });
            slices.Add(new YamlMappingNode
            {
                { "base_model", name(Definition.Models[first]) },
                { "parameters", new YamlMappingNode { { "t", Number(t) } } },
                { "sources", sources },
            });
        }
        return slices;
    }

    /// <summary>
    /// slerp per group: torch.topk of the raw weights (first of equal values first), t = softmax(top two)[1]
    /// = 1 / (1 + exp(v0 − v1)) as torch computes it (exp of the values less their maximum, over their sum).
    /// </summary>
    public (int First, int Second, double T) SlerpChoice(IReadOnlyList<double> g, int group)
    {
        var order = Enumerable.Range(0, Definition.Models.Count).OrderByDescending(m => g[Index(group, m, 0, 0)]).ThenBy(m => m).ToArray();
        double v0 = g[Index(group, order[0], 0, 0)], v1 = g[Index(group, order[1], 0, 0)];
        double e1 = Math.Exp(v1 - v0);
        return (order[0], order[1], e1 / (1 + e1));
    }

    // yaml.dump sorts keys: density before weight.
    private IEnumerable<int> SortedParameters() => Enumerable.Range(0, Parameters.Count).OrderBy(p => Parameters[p], StringComparer.Ordinal);

    private YamlMappingNode Condition(int set, YamlNode value)
    {
        var c = new YamlMappingNode();
        // mergekit dumps with exclude_defaults: the catch-all condition has no filter key.
        if (set < Definition.Filters.Count) c.Add("filter", Definition.Filters[set]);
        c.Add("value", value);
        return c;
    }

    /// <summary>Shortest text that reads back as the same double, as Python's repr writes floats.</summary>
    public static YamlScalarNode Number(double v) => new(FormatNumber(v));

    public static string FormatNumber(double v)
    {
        string s = v.ToString("R", CultureInfo.InvariantCulture);
        if (s.Contains('E', StringComparison.Ordinal)) s = s.Replace("E", "e", StringComparison.Ordinal);
        else if (!s.Contains('.', StringComparison.Ordinal)) s += ".0";
        return s;
    }

    /// <summary>
    /// The merge parameters a genotype sets, as mergekit's genotype_to_param_arrays names them
    /// (<c>{model}_{param}[_{filter}]</c>, model = folder name) with values per layer group after abs and clamping;
    /// for slerp, each group's pair and t.
    /// </summary>
    public SortedDictionary<string, double[]> ParameterArrays(IReadOnlyList<double> genotype)
    {
        var res = new SortedDictionary<string, double[]>(StringComparer.Ordinal);
        if (Definition.MergeMethod == "slerp")
        {
            for (int group = 0; group < LayerGroups; group++)
            {
                var (first, second, t) = SlerpChoice(genotype, group);
                res[$"group{group}_t"] = [first, second, t];
            }
            return res;
        }
        for (int p = 0; p < Parameters.Count; p++)
        for (int m = 0; m < Definition.Models.Count; m++)
        for (int set = 0; set < ParameterSets; set++)
        {
            string model = Path.GetFileName(Path.TrimEndingDirectorySeparator(Definition.Models[m].Lora ?? Definition.Models[m].Model));
            string suffix = set < Definition.Filters.Count ? "_" + Definition.Filters[set] : "";
            res[$"{model}_{Parameters[p]}{suffix}"] = Enumerable.Range(0, LayerGroups).Select(group => Value(genotype, group, m, set, p)).ToArray();
        }
        return res;
    }
}
