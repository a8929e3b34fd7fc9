using System.Text;
using System.Text.Json;
using LlmMerge.Core;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Tests.Support;

namespace LlmMerge.Tests.SafeTensors;

public class SafetensorsTests
{
    private static string WriteRaw(TempDir d, string header, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BitConverter.GetBytes((ulong)h.Length).CopyTo(bytes, 0);
        h.CopyTo(bytes, 8);
        string path = d["x.safetensors"];
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Test]
    public void WrittenFileHasPaddedHeaderFormatMetadataAndReadsBack()
    {
        using var d = new TempDir();
        string path = d["m.safetensors"];
        using (var w = new SafetensorsWriter(path, [("a", SafetensorsDType.F32, [2]), ("b", SafetensorsDType.BF16, [3])]))
        {
            w.Write("b", TinyModel.Encode([1, 2, 3], SafetensorsDType.BF16));
            w.Write("a", TinyModel.Encode([5, 6], SafetensorsDType.F32));
            w.Complete();
        }
        var bytes = File.ReadAllBytes(path);
        ulong n = BitConverter.ToUInt64(bytes, 0);
        Assert.That(n % 8, Is.EqualTo(0));
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n));
        Assert.That(doc.RootElement.GetProperty("__metadata__").GetProperty("format").GetString(), Is.EqualTo("pt"));
        Assert.That(doc.RootElement.GetProperty("b").GetProperty("data_offsets")[0].GetInt64(), Is.EqualTo(8));
        using var f = SafetensorsFile.Open(path);
        Assert.That(f.GetBytes(f.GetInfo("a")).ToArray(), Is.EqualTo(TinyModel.Encode([5, 6], SafetensorsDType.F32)));
    }

    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "truncated")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "lies about offsets")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes")]
    [TestCase("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype 'Q4'")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlaps")]
    [TestCase("not json", 0, "not valid JSON")]
    public void InvalidHeadersAreRefusedWithTheReason(string header, int dataBytes, string reason)
    {
        using var d = new TempDir();
        string path = WriteRaw(d, header, dataBytes);
        var e = Assert.Throws<LlmMergeException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.That(e!.Message, Does.StartWith(path).And.Contain(reason));
    }

    [Test]
    public void HeaderSizeIsCapped()
    {
        using var d = new TempDir();
        string path = d["huge.safetensors"];
        var bytes = new byte[16];
        BitConverter.GetBytes(200_000_000UL).CopyTo(bytes, 0);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<LlmMergeException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.That(e!.Message, Does.Contain("limit"));
    }

    [Test]
    public void ShardSizesParseAsMergekitDoes()
    {
        Assert.That(ShardedModelWriter.ParseShardSize("5B"), Is.EqualTo(5_000_000_000));
        Assert.That(ShardedModelWriter.ParseShardSize("500M"), Is.EqualTo(500_000_000));
        Assert.That(ShardedModelWriter.ParseShardSize("64k"), Is.EqualTo(64_000));
        Assert.That(ShardedModelWriter.ParseShardSize("1234"), Is.EqualTo(1234));
        Assert.Throws<LlmMergeException>(() => ShardedModelWriter.ParseShardSize("5X"));
    }

    [Test]
    public void LargeTensorsAreReadThroughPointersBeyondTwoGigabytes()
    {
        // The reader must address offsets past 2^31: a sparse file holds a small tensor after a 2.2 GB one.
        using var d = new TempDir();
        string path = d["big.safetensors"];
        long big = 2_200_000_000;
        using (var w = new SafetensorsWriter(path, [("big", SafetensorsDType.U8, [big]), ("tail", SafetensorsDType.F32, [2])]))
        {
            w.Write("big", [42], big - 1);
            w.Write("tail", TinyModel.Encode([7, 8], SafetensorsDType.F32));
            w.Complete();
        }
        using var f = SafetensorsFile.Open(path);
        var info = f.GetInfo("big");
        Assert.That(info.ByteLength, Is.EqualTo(big));
        Assert.That(info.ByteLength > int.MaxValue);
        unsafe
        {
            Assert.That(f.GetPointer(info)[big - 1], Is.EqualTo(42));
        }
        Assert.That(f.GetBytes(f.GetInfo("tail")).ToArray(), Is.EqualTo(TinyModel.Encode([7, 8], SafetensorsDType.F32)));
    }
}
