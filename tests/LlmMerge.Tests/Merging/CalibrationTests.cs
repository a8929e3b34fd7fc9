using LlmMerge.Engine.Calibration;
using LlmMerge.Tests.Eval;
using LlmMerge.Tests.Support;
using LlmMerge.Tokenizers;

namespace LlmMerge.Tests.Merging;

/// <summary>
/// regmean, regmean_plusplus and fisher end to end on tiny Llamas with a tokenizer: statistics computed from the
/// capture against the same quantities from the plain double forward pass (ReferenceDecoder), and the cache.
/// </summary>
public class CalibrationTests
{
    private TempDir _dir = null!;
    private HfTokenizer _tok = null!;
    private Dictionary<string, TinyDecoder> _models = null!;

    private const string Task = "id,input,target,answer_choices,eval_type\n"
        + "0,\"Question: Is the sky blue?\nAnswer:\",0,\"['yes', 'no']\",multiple_choice\n"
        + "1,\"Question: Is grass red?\nAnswer:\",1,\"['yes', 'no']\",multiple_choice\n"
        + "2,\"The cat sat on the mat. A summary is\",0,\"['the cat sat', 'the dog']\",multiple_choice\n"
        + "3,\"Question: Is the cat on the log?\nAnswer:\",1,\"['yes', 'no']\",multiple_choice\n"
        + "4,\"None of the above choices .\",,\"['a', 'b']\",multiple_choice\n";

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir();
        _tok = EvalTokenizer.Write(_dir["tok"]);
        var shape = new TinyDecoderShape { Hidden = 16, Heads = 2, KvHeads = 1, HeadDim = 8, Intermediate = 24, Layers = 2, Vocab = _tok.VocabSize };
        _models = new Dictionary<string, TinyDecoder>();
        foreach (var (name, seed) in new[] { ("base", 1), ("a", 2), ("b", 3) })
        {
            var m = new TinyDecoder(shape, seed);
            m.Write(_dir[name]);
            EvalTokenizer.Write(_dir[name]);
            _models[name] = m;
        }
        File.WriteAllText(_dir["task.csv"], Task);
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private string Recipe(string method, string models = "[a, b]", string extra = "", int seed = 3) =>
        $"merge_method: {method}\nbase_model: base\nmodels: {models}\n{extra}calibration:\n  tasks: [task.csv]\n  rows: 4\n  seed: {seed}\n";

    private (string Out, string Err) Merge(string yaml, string output = "out")
    {
        File.WriteAllText(_dir["recipe.yml"], yaml);
        string previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(_dir.Path);
        try
        {
            var (exit, _, err) = CliRunner.Run("merge", _dir["recipe.yml"], _dir[output], "--calibration-cache", _dir["cache"]);
            Assert.That(exit, Is.EqualTo(0), err);
            return (_dir[output], err);
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }

    private IReadOnlyList<CalibrationRow> Rows(int seed = 3) => CalibrationRows.Load([_dir["task.csv"]], 4, (ulong)seed, _tok, 64).Rows;

    /// <summary>Mean x xᵀ of every projection's inputs over every position of the rows, from the plain forward pass.</summary>
    internal static Dictionary<string, double[,]> Grams(TinyDecoder model, IEnumerable<CalibrationRow> rows)
    {
        var sums = new Dictionary<string, double[,]>();
        var counts = new Dictionary<string, int>();
        var reference = new ReferenceDecoder(model)
        {
            ProjectionInput = (name, x) =>
            {
                if (!sums.TryGetValue(name, out var s))
                {
                    sums[name] = s = new double[x.Length, x.Length];
                    counts[name] = 0;
                }
                for (int i = 0; i < x.Length; i++)
                    for (int j = 0; j < x.Length; j++)
                        s[i, j] += x[i] * x[j];
                counts[name]++;
            },
        };
        foreach (var row in rows)
            reference.LogProbs(row.Tokens);
        return sums.ToDictionary(kv => kv.Key, kv => Mat.Scale(kv.Value, 1.0 / counts[kv.Key]));
    }

    internal static double[,] RegMean(IReadOnlyList<double[,]> weights, IReadOnlyList<double[,]> grams, double ratio)
    {
        double[,]? sumG = null, sumGW = null;
        for (int i = 0; i < weights.Count; i++)
        {
            var g = (double[,])grams[i].Clone();
            for (int r = 0; r < g.GetLength(0); r++)
                for (int c = 0; c < g.GetLength(1); c++)
                    if (r != c)
                        g[r, c] *= ratio;
            var gw = Mat.Mul(g, Mat.T(weights[i]));
            sumG = sumG is null ? g : Mat.Add(sumG, g);
            sumGW = sumGW is null ? gw : Mat.Add(sumGW, gw);
        }
        return Mat.T(Mat.Mul(Mat.Inverse(sumG!), sumGW!));
    }

    private static double[,] AsMatrix((long[] Shape, float[] Values) w) =>
        Mat.From(w.Values, w.Shape.Length == 2 ? (int)w.Shape[0] : 1, (int)w.Shape[^1]);

    private static bool IsProjection(string name) => name.EndsWith("_proj.weight", StringComparison.Ordinal) || name == "lm_head.weight";

    /// <summary>RegMean on the given Gram matrices for projections, the mean for the rest: what both regmean variants compute.</summary>
    private static Dictionary<string, double[,]> Expected(IReadOnlyList<TinyDecoder> models, IReadOnlyList<Dictionary<string, double[,]>> grams, double ratio = 0.1) =>
        models[0].Weights.Keys.ToDictionary(name => name, name => IsProjection(name)
            ? RegMean(models.Select(m => AsMatrix(m.Weights[name])).ToList(), grams.Select(g => g[name[..^".weight".Length]]).ToList(), ratio)
            : Mat.Scale(models.Select(m => AsMatrix(m.Weights[name])).Aggregate((x, y) => Mat.Add(x, y)), 1.0 / models.Count));

    private static void AssertModel(string dir, Dictionary<string, double[,]> expected, double tolerance = 1e-5)
    {
        foreach (var (name, value) in expected)
            Assert.That(Mat.RelativeError(ModelReader.Read(dir, name), value), Is.LessThan(tolerance), name);
    }

    [Test]
    public void RegMeanUsesEachModelsGramMatricesOnItsRows()
    {
        var (o, err) = Merge(Recipe("regmean"));
        Assert.That(err, Does.Contain("regmean: Gram matrices of 'a' on task.csv (4 rows)"));
        var rows = Rows();
        Assert.That(rows, Has.Count.EqualTo(4));
        var models = new[] { _models["a"], _models["b"] };
        AssertModel(o, Expected(models, models.Select(m => Grams(m, rows)).ToList()));
    }

    [Test]
    public void RegMeanWithOneModelReturnsIt()
    {
        var (o, _) = Merge(Recipe("regmean", "[a]"));
        AssertModel(o, _models["a"].Weights.ToDictionary(kv => kv.Key, kv => AsMatrix(kv.Value)));
    }

    [Test]
    public void StatisticsAreReusedUntilTheRowsOrTheModelChange()
    {
        var (first, err1) = Merge(Recipe("regmean"), "out1");
        Assert.That(err1, Does.Contain("cached at"));
        var (second, err2) = Merge(Recipe("regmean"), "out2");
        Assert.That(err2, Does.Contain("Gram matrices of 'a' read from the cache").And.Contains("Gram matrices of 'b' read from the cache"));
        foreach (var name in _models["a"].Weights.Keys)
            Assert.That(ModelReader.Read(second, name), Is.EqualTo(ModelReader.Read(first, name)), name);

        var (_, err3) = Merge(Recipe("regmean", seed: 4), "out3");
        Assert.That(err3, Does.Not.Contain("read from the cache"), "another draw of rows is another calibration");

        // Same content under another folder: still the cache's (fingerprints are by content, not by place).
        CopyFolder(_dir["a"], _dir["a-copy"]);
        var (_, err4) = Merge(Recipe("regmean", "[a-copy, b]"), "out4");
        Assert.That(err4, Does.Contain("Gram matrices of 'a-copy' read from the cache"));

        // A changed model is a new fingerprint.
        File.Delete(Path.Combine(_dir["a"], "model.safetensors"));
        _models["a"].Write(_dir["a"], edit: (_, w) => w["model.norm.weight"] = (w["model.norm.weight"].Shape, w["model.norm.weight"].Values.Select(v => v * 2).ToArray()));
        var (_, err5) = Merge(Recipe("regmean"), "out5");
        Assert.That(err5, Does.Contain("Gram matrices of 'a' on task.csv").And.Contains("Gram matrices of 'b' read from the cache"));
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from))
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }

    [Test]
    public void RegMeanPlusPlusTakesEachLayersInputsFromTheMergedModelSoFar()
    {
        var (o, _) = Merge(Recipe("regmean_plusplus"));
        var rows = Rows();
        var models = new[] { _models["a"], _models["b"] };
        var shape = models[0].Shape;

        // The merged model so far, as a decoder the reference can run: the base with the mean embeddings.
        var merged = new TinyDecoder(shape, 1);
        merged.Weights["model.embed_tokens.weight"] = Mean(models, "model.embed_tokens.weight");
        var grams = models.Select(_ => new Dictionary<string, double[,]>()).ToList();
        for (int l = 0; l < shape.Layers; l++)
        {
            string prefix = $"model.layers.{l}.";
            var names = merged.Weights.Keys.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            for (int i = 0; i < models.Length; i++)
            {
                // Model i's layer l on the merged model's inputs to it.
                var hybrid = Copy(merged);
                foreach (var n in names)
                    hybrid.Weights[n] = models[i].Weights[n];
                foreach (var (k, v) in Grams(hybrid, rows).Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)))
                    grams[i][k] = v;
            }
            foreach (var n in names)
                merged.Weights[n] = IsProjection(n)
                    ? (merged.Weights[n].Shape, Mat.Flat(RegMean(models.Select(m => AsMatrix(m.Weights[n])).ToList(), grams.Select(g => g[n[..^".weight".Length]]).ToList(), 0.1)))
                    : Mean(models, n);
        }
        for (int i = 0; i < models.Length; i++)
        {
            var hybrid = Copy(merged);
            hybrid.Weights["model.norm.weight"] = models[i].Weights["model.norm.weight"];
            hybrid.Weights["lm_head.weight"] = models[i].Weights["lm_head.weight"];
            grams[i]["lm_head"] = Grams(hybrid, rows)["lm_head"];
        }

        var expected = Expected(models, grams);
        AssertModel(o, expected);
        // Not plain RegMean: layer 1's inputs differ once layer 0 is merged.
        var plain = Expected(models, models.Select(m => Grams(m, rows)).ToList());
        Assert.That(Mat.RelativeError(ModelReader.Read(o, "model.layers.1.mlp.down_proj.weight"), plain["model.layers.1.mlp.down_proj.weight"]), Is.GreaterThan(1e-3));
    }

    private static (long[], float[]) Mean(IReadOnlyList<TinyDecoder> models, string name)
    {
        var shape = models[0].Weights[name].Shape;
        var values = new float[models[0].Weights[name].Values.Length];
        for (int j = 0; j < values.Length; j++)
            values[j] = (float)(models.Sum(m => (double)m.Weights[name].Values[j]) / models.Count);
        return (shape, values);
    }

    private static TinyDecoder Copy(TinyDecoder model)
    {
        var copy = new TinyDecoder(model.Shape, 0);
        foreach (var (k, v) in model.Weights)
            copy.Weights[k] = v;
        return copy;
    }

    /// <summary>
    /// Mean over labeled rows of the squared gradient of Σ log p(target) with respect to lm_head.weight, in closed
    /// form: Σ over target positions of (onehot(y) − p) hᵀ, h the final-normed hidden state.
    /// </summary>
    private static double[,] HeadFisher(TinyDecoder model, IReadOnlyList<CalibrationRow> rows)
    {
        int vocab = model.Shape.Vocab, hidden = model.Shape.Hidden;
        var fisher = new double[vocab, hidden];
        int used = 0;
        foreach (var row in rows.Where(r => r.Target.Count > 0))
        {
            var inputs = new List<double[]>();
            var reference = new ReferenceDecoder(model) { ProjectionInput = (name, x) => { if (name == "lm_head") inputs.Add(x); } };
            var tokens = row.Tokens;
            var logProbs = reference.LogProbs(tokens);
            var g = new double[vocab, hidden];
            for (int j = Math.Max(row.Context.Count, 1) - 1; j < tokens.Length - 1; j++)
            {
                int y = tokens[j + 1];
                for (int v = 0; v < vocab; v++)
                {
                    double coefficient = (v == y ? 1 : 0) - Math.Exp(logProbs[j][v]);
                    for (int c = 0; c < hidden; c++)
                        g[v, c] += coefficient * inputs[j][c];
                }
            }
            for (int v = 0; v < vocab; v++)
                for (int c = 0; c < hidden; c++)
                    fisher[v, c] += g[v, c] * g[v, c];
            used++;
        }
        return Mat.Scale(fisher, 1.0 / used);
    }

    [Test]
    public void FisherWeightsTheHeadBySquaredGradientsOfTheTargets()
    {
        var (o, err) = Merge(Recipe("fisher", extra: "parameters:\n  normalize_fisher_weight: false\n"));
        Assert.That(err, Does.Contain("Fisher diagonals of 'a' on 3 rows"), "the unlabeled row is skipped");
        var rows = Rows();
        var models = new[] { _models["a"], _models["b"] };
        var fishers = models.Select(m => HeadFisher(m, rows)).ToList();
        var weights = models.Select(m => AsMatrix(m.Weights["lm_head.weight"])).ToList();
        int vocab = models[0].Shape.Vocab, hidden = models[0].Shape.Hidden;
        var expected = new double[vocab, hidden];
        for (int v = 0; v < vocab; v++)
            for (int c = 0; c < hidden; c++)
            {
                double num = 0, den = 0;
                for (int i = 0; i < models.Length; i++)
                {
                    num += (fishers[i][v, c] + 1e-6) * weights[i][v, c];
                    den += fishers[i][v, c] + 1e-6;
                }
                expected[v, c] = num / den;
            }
        Assert.That(Mat.RelativeError(ModelReader.Read(o, "lm_head.weight"), expected), Is.LessThan(1e-5));
    }

    [Test]
    public void DataAwareMethodsWithoutCalibrationSayWhatToAdd()
    {
        File.WriteAllText(_dir["recipe.yml"], "merge_method: fisher\nbase_model: base\nmodels: [a, b]\n");
        string previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(_dir.Path);
        try
        {
            var (exit, _, err) = CliRunner.Run("merge", _dir["recipe.yml"], _dir["out"], "--quiet");
            Assert.That(exit, Is.Not.EqualTo(0));
            Assert.That(err, Does.Contain("add a 'calibration:' block"));
            Assert.That(Directory.Exists(_dir["out"]), Is.False);
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }
}
