namespace LlmMerge.Core.SafeTensors;

/// <summary>The element types of the safetensors format, named as in its header.</summary>
public enum SafetensorsDType
{
    BOOL, U8, I8, F8_E4M3, F8_E5M2, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64,
}

public static class SafetensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.BOOL or SafetensorsDType.U8 or SafetensorsDType.I8
            or SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E5M2 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        _ => 8,
    };

    /// <summary>Whether merge methods compute on this type; others are passed through untouched.</summary>
    public static bool IsMergeable(this SafetensorsDType dtype) =>
        dtype is SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16;

    public static bool TryParse(string name, out SafetensorsDType dtype) =>
        Enum.TryParse(name, ignoreCase: false, out dtype) && Enum.IsDefined(dtype);

    /// <summary>Parses a dtype as recipes and config.json spell it (bfloat16, float16, float32, bf16, fp16, ...).</summary>
    public static SafetensorsDType ParseTorchName(string name) => name.ToLowerInvariant() switch
    {
        "bfloat16" or "bf16" => SafetensorsDType.BF16,
        "float16" or "fp16" or "half" or "f16" => SafetensorsDType.F16,
        "float32" or "fp32" or "float" or "f32" => SafetensorsDType.F32,
        "float64" or "fp64" or "double" => SafetensorsDType.F64,
        _ => throw new LlmMergeException($"unknown dtype '{name}': use bfloat16, float16 or float32"),
    };

    /// <summary>The torch name that config.json's torch_dtype uses.</summary>
    public static string TorchName(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.BF16 => "bfloat16",
        SafetensorsDType.F16 => "float16",
        SafetensorsDType.F32 => "float32",
        SafetensorsDType.F64 => "float64",
        _ => dtype.ToString().ToLowerInvariant(),
    };
}
