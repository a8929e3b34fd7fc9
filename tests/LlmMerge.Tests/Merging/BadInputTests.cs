using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.Merging;

public class BadInputTests : MergeTestBase
{
    private const string TwoModels = """
        merge_method: ties
        base_model: base
        parameters: {density: 0.5}
        models:
          - model: a
            parameters: {weight: 1}
          - model: MODEL
            parameters: {weight: 1}
        """;

    [Test]
    public void MissingModelFolderIsNamed()
    {
        var (_, err) = MergeFails(TwoModels.Replace("MODEL", "nowhere"));
        Assert.That(err, Does.Contain("nowhere").And.Contain("no such folder"));
    }

    [Test]
    public void TruncatedSafetensorsIsNamed()
    {
        string file = Path.Combine(Dir["b"], "model.safetensors");
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..(bytes.Length - 10)]);
        var (_, err) = MergeFails(TwoModels.Replace("MODEL", "b"));
        Assert.That(err, Does.Contain("model.safetensors").And.Contain("truncated"));
    }

    [Test]
    public void HeaderThatLiesAboutOffsetsIsRefused()
    {
        string file = Path.Combine(Dir["b"], "model.safetensors");
        var bytes = File.ReadAllBytes(file);
        ulong n = BitConverter.ToUInt64(bytes, 0);
        string header = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)n);
        // point the second tensor (q_proj, 64 bytes at [96, 160)) into the first one's bytes
        string lied = header.Replace("\"data_offsets\":[96,160]", "\"data_offsets\":[0,64]");
        Assert.That(lied, Is.Not.EqualTo(header), "fixture layout changed");
        lied = lied.PadRight((int)n);
        var patched = bytes.ToArray();
        System.Text.Encoding.UTF8.GetBytes(lied).CopyTo(patched, 8);
        File.WriteAllBytes(file, patched);
        var (_, err) = MergeFails(TwoModels.Replace("MODEL", "b"));
        Assert.That(err, Does.Contain("model.safetensors").And.Contain("lies about offsets"));
    }

    [Test]
    public void DifferentShapesAreAnErrorNamingTensorAndModels()
    {
        var m = new TinyModel().Layers(2);
        foreach (var name in Fixtures.Names(2))
        {
            var shape = name == "model.layers.1.mlp.up_proj.weight" ? new long[] { 2, Fixtures.Hidden } : Fixtures.ShapeOf(name);
            m.Add(name, shape, Fixtures.Values(9, shape.Aggregate(1L, (x, y) => x * y)));
        }
        m.Write(Dir["odd"]);
        var (_, err) = MergeFails(TwoModels.Replace("MODEL", "odd"));
        Assert.That(err, Does.Contain("model.layers.1.mlp.up_proj.weight").And.Contain("'odd' [2, 4]").And.Contain("'a' [3, 4]"));
    }

    [Test]
    public void EmbeddingsOfDifferentVocabulariesUseTheCommonSubmatrixWithAWarning()
    {
        Fixtures.Model(5, vocab: Fixtures.Vocab + 2).Write(Dir["bigvocab"]);
        string recipe = Dir["recipe.yml"];
        File.WriteAllText(recipe, """
            merge_method: linear
            models:
              - model: a
                parameters: {weight: 1}
              - model: bigvocab
                parameters: {weight: 1}
            """);
        var (exit, _, err) = CliRunner.Run("merge", recipe, Dir["out"], "--quiet");
        Assert.That(exit, Is.EqualTo(0), err);
        Assert.That(err, Does.Contain("warning").And.Contain("model.embed_tokens.weight").And.Contain("common submatrix"));
        var info = ModelReader.Info(Dir["out"], "model.embed_tokens.weight");
        Assert.That(info.Shape, Is.EqualTo(new long[] { Fixtures.Vocab, Fixtures.Hidden }));
        var a = In("a", "model.embed_tokens.weight");
        var big = In("bigvocab", "model.embed_tokens.weight");
        AssertClose(ModelReader.Read(Dir["out"], "model.embed_tokens.weight"), a.Select((x, i) => (x + big[i]) / 2).ToArray());
    }

    [Test]
    public void MissingRequiredParameterNamesMethodAndParameter()
    {
        var (_, err) = MergeFails("""
            merge_method: ties
            base_model: base
            models:
              - model: a
              - model: b
            """);
        Assert.That(err, Does.Contain("'ties'").And.Contain("'weight'").And.Contain("'a'"));
    }

    [Test]
    public void UnknownMethodListsTheKnownOnes()
    {
        var (_, err) = MergeFails("merge_method: tiez\nmodels:\n  - model: a\n");
        Assert.That(err, Does.Contain("'tiez'").And.Contain("ties").And.Contain("slerp").And.Contain("linear"));
    }

    [Test]
    public void UnknownKeysAndParametersAreNamed()
    {
        var (_, err) = MergeFails("merge_method: linear\nmodel:\n  - model: a\n");
        Assert.That(err, Does.Contain("unknown key 'model'").And.Contain("recipe.yml:2"));
        (_, err) = MergeFails("""
            merge_method: ties
            base_model: base
            models:
              - model: a
                parameters: {weight: 1, desnity: 0.5}
            """);
        Assert.That(err, Does.Contain("unknown parameter 'desnity'").And.Contain("density"));
    }

    [Test]
    public void FailedMergeLeavesTheOutputFolderAsItWas()
    {
        string output = Dir["kept"];
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "marker.txt"), "previous model");
        MergeFails(TwoModels.Replace("MODEL", "nowhere"), output);
        Assert.That(Directory.GetFileSystemEntries(output), Has.Length.EqualTo(1));
        Assert.That(File.ReadAllText(Path.Combine(output, "marker.txt")), Is.EqualTo("previous model"));
        Assert.That(Directory.GetDirectories(Dir.Path).Where(d => Path.GetFileName(d).Contains(".tmp-")), Is.Empty, "no work folder left behind");
    }

    [Test]
    public void SlerpNeedsExactlyTwoModels()
    {
        var (_, err) = MergeFails("""
            merge_method: slerp
            base_model: base
            parameters: {t: 0.5}
            models:
              - model: a
              - model: b
            """);
        Assert.That(err, Does.Contain("slerp").And.Contain("exactly two"));
    }
}
