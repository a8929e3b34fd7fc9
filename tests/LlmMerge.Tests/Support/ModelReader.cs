using LlmMerge.Core.Models;
using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Tests.Support;

/// <summary>Reads a tensor of a written model back as floats, by hand, without the engine's conversion code.</summary>
public static class ModelReader
{
    public static float[] Read(string dir, string name)
    {
        using var m = ModelFolder.Open(dir);
        var f = m.GetFile(name);
        var info = f.GetInfo(name);
        var bytes = f.GetBytes(info).ToArray();
        return info.DType switch
        {
            SafetensorsDType.F32 => Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToSingle(bytes, i * 4)).ToArray(),
            SafetensorsDType.BF16 => Enumerable.Range(0, bytes.Length / 2).Select(i => Bf16.ToFloat(BitConverter.ToUInt16(bytes, i * 2))).ToArray(),
            SafetensorsDType.F16 => Enumerable.Range(0, bytes.Length / 2).Select(i => (float)BitConverter.ToHalf(bytes, i * 2)).ToArray(),
            _ => throw new ArgumentOutOfRangeException(name),
        };
    }

    public static TensorInfo Info(string dir, string name)
    {
        using var m = ModelFolder.Open(dir);
        return m.GetInfo(name);
    }
}
