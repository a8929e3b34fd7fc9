using System.Globalization;
using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using LlmMerge.Search;
using LlmMerge.Search.Cma;
using LlmMerge.Search.Genome;
using YamlDotNet.RepresentationModel;

namespace LlmMerge.Tests.Search;

/// <summary>
/// The genotype → recipe mapping against a plain transcription of mergekit's genotype_merge_config (mergekit/evo/genome.py
/// at a6e40288) written here as nested lists and maps, compared entry by entry after reading our YAML back.
/// </summary>
public class GenomeTests
{
    private static readonly string[] Names = ["m0", "m1", "m2", "m3"];

    private static GenomeDefinition Definition(string method, int models = 4, string? baseModel = "base", int granularity = 2,
        string[]? filters = null, bool smooth = false, bool negative = false, bool? normalize = null) => new()
    {
        Models = Names.Take(models).Select(n => new ModelReference(n)).ToList(),
        MergeMethod = method,
        BaseModel = baseModel is null ? null : new ModelReference(baseModel),
        LayerGranularity = granularity,
        Filters = filters ?? [],
        Smooth = smooth,
        AllowNegativeWeights = negative,
        Normalize = normalize,
    };

    private static double[] Genotype(int n, ulong seed)
    {
        var r = new CmaRandom(seed);
        return Enumerable.Range(0, n).Select(_ => r.NextGaussian()).ToArray();
    }

    /// <summary>YAML read back as maps, lists, numbers and strings.</summary>
    private static object? Plain(YamlNode node) => node switch
    {
        YamlScalarNode s => double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : s.Value,
        YamlSequenceNode q => q.Children.Select(Plain).ToList(),
        YamlMappingNode m => m.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => Plain(kv.Value)),
        _ => throw new InvalidOperationException(),
    };

    private static object? ReadBack(Genome genome, double[] x)
    {
        string text = YamlText.Of(genome.Recipe(x, r => r.Model));
        MergeRecipeParser.Parse(text); // every recipe a genome writes is one our merge reads
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return Plain(stream.Documents[0].RootNode);
    }

    // mergekit's genotype view: [groups, models, sets, params], row-major.
    private static double Cell(double[] x, int models, int sets, int pars, int g, int m, int s, int p) => x[((g * models + m) * sets + s) * pars + p];

    [Test]
    public void TiesSlicesCarryEachGroupsAbsWeightsAndClampedDensities()
    {
        var genome = new Genome(Definition("ties"), numLayers: 4);
        Assert.That(genome.Dimension, Is.EqualTo(2 * 4 * 1 * 2));
        var x = Genotype(genome.Dimension, 3).Select(v => v * 1.5).ToArray();
        var slices = new List<object?>();
        for (int g = 0; g < 2; g++)
        {
            var sources = new List<object?>();
            for (int m = 0; m < 4; m++)
            {
                sources.Add(new Dictionary<string, object?>
                {
                    ["layer_range"] = new List<object?> { 2.0 * g, 2.0 * g + 2 },
                    ["model"] = Names[m],
                    ["parameters"] = new Dictionary<string, object?>
                    {
                        ["density"] = Math.Min(1, Math.Max(0, Math.Abs(Cell(x, 4, 1, 2, g, m, 0, 1)))),
                        ["weight"] = Math.Abs(Cell(x, 4, 1, 2, g, m, 0, 0)),
                    },
                });
            }
            sources.Add(new Dictionary<string, object?> { ["layer_range"] = new List<object?> { 2.0 * g, 2.0 * g + 2 }, ["model"] = "base" });
            slices.Add(new Dictionary<string, object?> { ["sources"] = sources });
        }
        var expected = new Dictionary<string, object?>
        {
            ["base_model"] = "base",
            ["dtype"] = "bfloat16",
            ["merge_method"] = "ties",
            ["parameters"] = new Dictionary<string, object?> { ["int8_mask"] = "true", ["normalize"] = "true" },
            ["slices"] = slices,
        };
        Assert.That(ReadBack(genome, x), Is.EqualTo(expected));
    }

    [Test]
    public void FiltersGiveOneConditionPerFilterAndACatchAllAndNegativeWeightsStaySigned()
    {
        var genome = new Genome(Definition("linear", models: 2, baseModel: null, granularity: 0, filters: ["self_attn", "mlp"], negative: true), numLayers: 4);
        Assert.That(genome.Dimension, Is.EqualTo(1 * 2 * 3 * 1));
        var x = Genotype(genome.Dimension, 5);
        var sources = new List<object?>();
        for (int m = 0; m < 2; m++)
        {
            sources.Add(new Dictionary<string, object?>
            {
                ["layer_range"] = new List<object?> { 0.0, 4.0 },
                ["model"] = Names[m],
                ["parameters"] = new Dictionary<string, object?>
                {
                    ["weight"] = new List<object?>
                    {
                        new Dictionary<string, object?> { ["filter"] = "self_attn", ["value"] = Cell(x, 2, 3, 1, 0, m, 0, 0) },
                        new Dictionary<string, object?> { ["filter"] = "mlp", ["value"] = Cell(x, 2, 3, 1, 0, m, 1, 0) },
                        new Dictionary<string, object?> { ["value"] = Cell(x, 2, 3, 1, 0, m, 2, 0) },
                    },
                },
            });
        }
        var expected = new Dictionary<string, object?>
        {
            ["dtype"] = "bfloat16",
            ["merge_method"] = "linear",
            ["parameters"] = new Dictionary<string, object?> { ["normalize"] = "true" }, // linear takes no int8_mask
            ["slices"] = new List<object?> { new Dictionary<string, object?> { ["sources"] = sources } },
        };
        Assert.That(ReadBack(genome, x), Is.EqualTo(expected));
    }

    [Test]
    public void SmoothGivesEachModelAGradientOverTheGroups()
    {
        var genome = new Genome(Definition("task_arithmetic", models: 3, granularity: 2), numLayers: 8);
        genome = new Genome(genome.Definition with { Smooth = true }, 8);
        Assert.That(genome.Dimension, Is.EqualTo(4 * 3 * 1 * 1), "task_arithmetic tunes weight only, as mergekit's map says");
        var x = Genotype(genome.Dimension, 9);
        var models = new List<object?>();
        for (int m = 0; m < 3; m++)
        {
            models.Add(new Dictionary<string, object?>
            {
                ["model"] = Names[m],
                ["parameters"] = new Dictionary<string, object?> { ["weight"] = Enumerable.Range(0, 4).Select(g => (object?)Math.Abs(Cell(x, 3, 1, 1, g, m, 0, 0))).ToList() },
            });
        }
        models.Add(new Dictionary<string, object?> { ["model"] = "base" });
        var expected = new Dictionary<string, object?>
        {
            ["base_model"] = "base",
            ["dtype"] = "bfloat16",
            ["merge_method"] = "task_arithmetic",
            ["models"] = models,
            ["parameters"] = new Dictionary<string, object?> { ["int8_mask"] = "true", ["normalize"] = "false" },
        };
        Assert.That(ReadBack(genome, x), Is.EqualTo(expected));
    }

    [Test]
    public void SlerpPicksTheTwoLargestRawWeightsPerGroupAndTIsTheirSoftmax()
    {
        var genome = new Genome(Definition("slerp", models: 3, baseModel: null, granularity: 1), numLayers: 3);
        var x = Genotype(genome.Dimension, 13);
        var slices = new List<object?>();
        for (int g = 0; g < 3; g++)
        {
            var order = Enumerable.Range(0, 3).OrderByDescending(m => x[g * 3 + m]).ToArray();
            double a = x[g * 3 + order[0]], b = x[g * 3 + order[1]];
            double t = Math.Exp(b) / (Math.Exp(a) + Math.Exp(b));
            slices.Add(new Dictionary<string, object?>
            {
                ["base_model"] = Names[order[0]],
                ["parameters"] = new Dictionary<string, object?> { ["t"] = t },
                ["sources"] = order.Take(2).Select(m => (object?)new Dictionary<string, object?> { ["layer_range"] = new List<object?> { (double)g, g + 1.0 }, ["model"] = Names[m] }).ToList(),
            });
        }
        var actual = (Dictionary<string, object?>)ReadBack(genome, x)!;
        var actualSlices = (List<object?>)actual["slices"]!;
        for (int g = 0; g < 3; g++)
        {
            var e = (Dictionary<string, object?>)slices[g]!;
            var a = (Dictionary<string, object?>)actualSlices[g]!;
            Assert.That(a["base_model"], Is.EqualTo(e["base_model"]));
            Assert.That(a["sources"], Is.EqualTo(e["sources"]));
            Assert.That((double)((Dictionary<string, object?>)a["parameters"]!)["t"]!, Is.EqualTo((double)((Dictionary<string, object?>)e["parameters"]!)["t"]!).Within(1e-15));
        }
        Assert.That(actual.Keys, Is.EqualTo(new[] { "dtype", "merge_method", "slices" }), "slerp takes neither normalize nor int8_mask");
    }

    [Test]
    public void TheInitialGenotypeIsMergekitsFloat32EqualWeightsAndFullDensity()
    {
        var genome = new Genome(Definition("dare_ties", models: 3, granularity: 0), numLayers: 4);
        var x0 = genome.InitialGenotype();
        Assert.That(x0, Is.EqualTo(new[] { 0.3333333432674408, 1, 0.3333333432674408, 1, 0.3333333432674408, 1 }));
    }

    [Test]
    public void RecipeNumbersReadBackAsTheSameDoubles()
    {
        foreach (double v in new[] { 0.1, 1.0 / 3, 1e-5, 123456789.125, -0.0, 2.5e-300 })
            Assert.That(double.Parse(Genome.FormatNumber(v), CultureInfo.InvariantCulture), Is.EqualTo(v));
        Assert.That(Genome.FormatNumber(1), Is.EqualTo("1.0"), "as Python's repr");
        Assert.That(Genome.FormatNumber(1e-5), Is.EqualTo("1e-05"));
    }

    [Test]
    public void ALayerGranularityThatDoesNotDivideTheLayersIsRefused()
    {
        var e = Assert.Throws<LlmMergeException>(() => new Genome(Definition("ties", granularity: 3), numLayers: 4))!;
        Assert.That(e.Message, Does.Contain("layer_granularity 3").And.Contain("4 layers").And.Contain("1, 2, 4"));
    }

    [TestCase("merge_method: karcher", "has no parameters a genome can tune")]
    [TestCase("merge_method: ties", "needs base_model")]
    [TestCase("merge_method: slerp\n  smooth: true", "smooth is not supported")]
    [TestCase("merge_method: linear\n  layer_granulariy: 2", "unknown key 'layer_granulariy'")]
    public void BadGenomesAreOneLineErrorsNamingTheFile(string genomeLines, string message)
    {
        string yaml = $"genome:\n  models: [a, b]\n  {genomeLines}\ntasks: [t]\n";
        var e = Assert.Throws<LlmMergeException>(() => EvolveConfigParser.Parse(yaml, "g.yml"))!;
        Assert.That(e.Message, Does.StartWith("g.yml:").And.Contain(message));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void TasksAreNamesOrMappingsWithLmEvalsMetricSpelling()
    {
        var c = EvolveConfigParser.Parse("genome:\n  models: [a]\n  merge_method: linear\ntasks:\n  - plain\n  - name: weighted\n    weight: 2\n    metric: acc_norm,none\n", "g.yml");
        Assert.That(c.Tasks, Is.EqualTo(new[] { new TaskSpec("plain", 1, "acc"), new TaskSpec("weighted", 2, "acc_norm") }));
        var e = Assert.Throws<LlmMergeException>(() => EvolveConfigParser.Parse("genome:\n  models: [a]\n  merge_method: linear\ntasks:\n  - name: x\n    metric: f1\n", "g.yml"))!;
        Assert.That(e.Message, Does.Contain("metric 'f1'"));
    }
}
