using System.Text;
using LlmMerge.Core;
using LlmMerge.Core.PyTorch;
using LlmMerge.Core.SafeTensors;
using LlmMerge.TestFixtures;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.PyTorch;

/// <summary>The torch.save reader on archives built byte for byte as torch lays them out (<see cref="TorchSaveWriter"/>).</summary>
public class PyTorchCheckpointTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void MakeDir() => _dir = new TempDir();

    [TearDown]
    public void Clean() => _dir.Dispose();

    private static byte[] F32(params float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    private static float[] Floats(ReadOnlySpan<byte> span)
    {
        byte[] b = span.ToArray();
        return Enumerable.Range(0, b.Length / 4).Select(i => BitConverter.ToSingle(b, i * 4)).ToArray();
    }

    private string Save(TorchSaveWriter w, string name = "pytorch_model.bin")
    {
        string path = _dir[name];
        w.Save(path);
        return path;
    }

    private static TorchSaveWriter TwoTensors() => new TorchSaveWriter()
        .Add("model.embed_tokens.weight", "F32", [2, 3], F32(1, 2, 3, 4, 5, 6))
        .Add("model.norm.weight", "BF16", [3], [0x80, 0x3f, 0x00, 0x40, 0x40, 0x40]);

    [Test]
    public void AStateDict_IsReadLazily_WithItsNamesDTypesShapesAndBytes()
    {
        using var f = PyTorchCheckpoint.Open(Save(TwoTensors()));

        Assert.That(f.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "model.embed_tokens.weight", "model.norm.weight" }));
        var embed = f.GetInfo("model.embed_tokens.weight");
        Assert.That(embed.DType, Is.EqualTo(SafetensorsDType.F32));
        Assert.That(embed.Shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(Floats(f.GetBytes(embed)), Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
        var norm = f.GetInfo("model.norm.weight");
        Assert.That(norm.DType, Is.EqualTo(SafetensorsDType.BF16));
        Assert.That(f.GetBytes(norm).ToArray(), Is.EqualTo(new byte[] { 0x80, 0x3f, 0x00, 0x40, 0x40, 0x40 }));
        // Contiguous tensors point into the mapped archive, at torch's 64-byte aligned records.
        Assert.That(embed.Begin % 64, Is.Zero);
    }

    [TestCase(false, false, false, "archive")]
    [TestCase(true, false, false, "archive")]
    [TestCase(false, true, false, "archive")]
    [TestCase(false, false, true, "archive")]
    [TestCase(false, false, false, "pytorch_model")]
    public void EveryWayTorchSaveWritesAStateDict_ReadsTheSame(bool plainDict, bool parameters, bool zip64, string prefix)
    {
        var w = TwoTensors();
        w.OrderedDict = !plainDict;
        w.AsParameters = parameters;
        w.Zip64 = zip64;
        w.Prefix = prefix;

        using var f = PyTorchCheckpoint.Open(Save(w));

        Assert.That(Floats(f.GetBytes(f.GetInfo("model.embed_tokens.weight"))), Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
        Assert.That(f.Tensors, Has.Count.EqualTo(2));
    }

    [Test]
    public void Views_SharedStorage_OffsetsAndTransposedStrides_ReadAsRowMajorValues()
    {
        var w = new TorchSaveWriter();
        // storage: 0..11; "a" = rows 1-2 of a [3, 4] view (offset 4); "t" = the [4, 3] transpose of the first 12; "tied" = "a" again.
        var storage = w.AddStorage("F32", F32([.. Enumerable.Range(0, 12).Select(i => (float)i)]));
        w.AddView("a", storage, 4, [2, 4], [4, 1]);
        w.AddView("t", storage, 0, [4, 3], [1, 4]);
        w.AddView("tied", storage, 4, [2, 4], [4, 1]);
        w.AddView("column", storage, 1, [3], [4]);

        using var f = PyTorchCheckpoint.Open(Save(w));

        Assert.That(Floats(f.GetBytes(f.GetInfo("a"))), Is.EqualTo(new float[] { 4, 5, 6, 7, 8, 9, 10, 11 }));
        // The transpose by a plain loop: t[i, j] = storage[j * 4 + i].
        var expected = new List<float>();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                expected.Add(j * 4 + i);
        Assert.That(Floats(f.GetBytes(f.GetInfo("t"))), Is.EqualTo(expected));
        Assert.That(Floats(f.GetBytes(f.GetInfo("tied"))), Is.EqualTo(Floats(f.GetBytes(f.GetInfo("a")))));
        Assert.That(Floats(f.GetBytes(f.GetInfo("column"))), Is.EqualTo(new float[] { 1, 5, 9 }));
        Assert.That(f.GetInfo("t").ByteLength, Is.EqualTo(48));
        // Evicting a gathered copy frees it; the next read gathers it again.
        f.Evict(f.GetInfo("t"));
        Assert.That(Floats(f.GetBytes(f.GetInfo("t"))), Is.EqualTo(expected));
    }

    private static byte[] Pickle(Action<PickleWriter> body)
    {
        var p = new PickleWriter();
        p.Proto();
        body(p);
        p.Stop();
        return p.ToArray();
    }

    [TestCase("os", "system")]
    [TestCase("builtins", "eval")]
    [TestCase("posix", "system")]
    [TestCase("__builtin__", "exec")]
    [TestCase("torch", "load")]
    public void APickleNamingAnyOtherGlobal_IsRefusedByName_AndNothingRuns(string module, string name)
    {
        string marker = _dir["ran"];
        var w = TwoTensors();
        // The payload a malicious checkpoint carries: module.name('touch MARKER') as the pickle's value.
        w.EditPickle = _ => Pickle(p =>
        {
            p.Global(module, name);
            p.Tuple(() => p.Str($"touch {marker}"));
            p.Reduce();
        });
        string path = Save(w);

        var e = Assert.Throws<LlmMergeException>(() => PyTorchCheckpoint.Open(path).Dispose());

        Assert.That(e!.Message, Does.Contain(path).And.Contain($"'{module}.{name}'").And.Contain("refused"));
        Assert.That(File.Exists(marker), Is.False);
    }

    [Test]
    public void AForbiddenGlobalDeepInsideAValidStateDict_IsRefusedToo()
    {
        var w = TwoTensors();
        // The rebuild function of the first tensor becomes builtins.eval, after a valid OrderedDict and key were read.
        w.EditPickle = b => Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(b).Replace("ctorch._utils\n_rebuild_tensor_v2\n", "cbuiltins\neval\n"));
        string path = Save(w);

        var e = Assert.Throws<LlmMergeException>(() => PyTorchCheckpoint.Open(path).Dispose());

        Assert.That(e!.Message, Does.Contain("'builtins.eval'").And.Contain("data.pkl"));
    }

    [Test]
    public void AnOpcodeTorchSaveDoesNotWrite_IsRefusedByName()
    {
        var w = TwoTensors();
        // STACK_GLOBAL (protocol 4) names a global from strings on the stack: refused as an opcode, whatever it names.
        w.EditPickle = _ => Pickle(p =>
        {
            p.Str("os");
            p.Str("system");
            p.Raw(0x93);
        });
        string path = Save(w);

        var e = Assert.Throws<LlmMergeException>(() => PyTorchCheckpoint.Open(path).Dispose());

        Assert.That(e!.Message, Does.Contain(path).And.Contain("STACK_GLOBAL"));
    }

    [Test]
    public void ADeflatedStorage_IsRefusedClearly()
    {
        var w = TwoTensors();
        w.Deflated.Add("data/0");
        string path = Save(w);

        var e = Assert.Throws<LlmMergeException>(() => PyTorchCheckpoint.Open(path).Dispose());

        Assert.That(e!.Message, Does.Contain(path).And.Contain("archive/data/0").And.Contain("compressed").And.Contain("deflate"));
    }

    [TestCase(0.5)]
    [TestCase(0.99)]
    [TestCase(0.02)]
    public void ATruncatedArchive_NamesTheFile(double keep)
    {
        byte[] whole = TwoTensors().ToBytes();
        string path = _dir["pytorch_model.bin"];
        File.WriteAllBytes(path, whole[..(int)(whole.Length * keep)]);

        var e = Assert.Throws<LlmMergeException>(() => PyTorchCheckpoint.Open(path).Dispose());

        Assert.That(e!.Message, Does.StartWith(path).And.Contain("truncated"));
    }

    [TestCase(1)]
    [TestCase(-1)]
    public void AStorageWhoseSizeDisagreesWithThePickle_NamesTheFileAndStorage(int extra)
    {
        var w = TwoTensors();
        w.Tensors[0].Storage.Numel += extra;
        string path = Save(w);

        var e = Assert.Throws<LlmMergeException>(() => PyTorchCheckpoint.Open(path).Dispose());

        Assert.That(e!.Message, Does.StartWith(path).And.Contain("storage '0'").And.Contain("24 bytes").And.Contain("FloatStorage"));
    }

    [TestCase(3, new long[] { 2, 3 }, new long[] { 3, 1 })]
    [TestCase(0, new long[] { 3, 3 }, new long[] { 3, 1 })]
    [TestCase(0, new long[] { 2, 3 }, new long[] { 1, 3 })]
    public void AViewPastTheEndOfItsStorage_NamesTheFileAndTensor(long offset, long[] shape, long[] stride)
    {
        var w = new TorchSaveWriter();
        var storage = w.AddStorage("F32", F32(1, 2, 3, 4, 5, 6));
        w.AddView("model.layers.0.mlp.up_proj.weight", storage, offset, shape, stride);
        string path = Save(w);

        var e = Assert.Throws<LlmMergeException>(() => PyTorchCheckpoint.Open(path).Dispose());

        Assert.That(e!.Message, Does.StartWith(path).And.Contain("'model.layers.0.mlp.up_proj.weight'").And.Contain("past the 6 elements"));
    }

    [Test]
    public void TheLegacyFormat_IsRefusedWithHowToConvertIt()
    {
        string path = _dir["pytorch_model.bin"];
        // torch.save before 1.6: a pickled magic number (LONG1 0x1950a86a20f9469cfc6c), then more pickles.
        File.WriteAllBytes(path, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.', .. new byte[100]]);

        var e = Assert.Throws<LlmMergeException>(() => PyTorchCheckpoint.Open(path).Dispose());

        Assert.That(e!.Message, Does.StartWith(path).And.Contain("legacy").And.Contain("1.6").And.Contain("convert"));
    }

    [Test]
    public void BigEndianStorages_AreRefused()
    {
        var w = TwoTensors();
        w.ByteOrder = "big";
        string path = Save(w);

        var e = Assert.Throws<LlmMergeException>(() => PyTorchCheckpoint.Open(path).Dispose());

        Assert.That(e!.Message, Does.StartWith(path).And.Contain("big-endian"));
    }

    [Test]
    public void WithoutAByteorderEntry_LittleEndianIsAssumed_AsOlderTorchWrote()
    {
        var w = TwoTensors();
        w.ByteOrder = null;

        using var f = PyTorchCheckpoint.Open(Save(w));

        Assert.That(f.Tensors, Has.Count.EqualTo(2));
    }

    [Test]
    public void APickleOfSomethingOtherThanTensors_IsRefused()
    {
        var w = TwoTensors();
        w.EditPickle = _ => Pickle(p =>
        {
            p.EmptyDict();
            p.SetItems([() => { p.Str("epoch"); p.Int(3); }]);
        });
        string path = Save(w);

        var e = Assert.Throws<LlmMergeException>(() => PyTorchCheckpoint.Open(path).Dispose());

        Assert.That(e!.Message, Does.StartWith(path).And.Contain("'epoch'").And.Contain("not a tensor"));
    }
}
