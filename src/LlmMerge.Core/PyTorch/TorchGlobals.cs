using LlmMerge.Core.SafeTensors;

namespace LlmMerge.Core.PyTorch;

/// <summary>
/// The globals torch.save writes into a state dict's pickle, and the storage types' element types. Everything
/// else (os.system, builtins.eval, any class of a training script) is refused by name before anything is built.
/// </summary>
internal static class TorchGlobals
{
    public const string OrderedDict = "collections.OrderedDict";
    public const string RebuildTensor = "torch._utils._rebuild_tensor_v2";
    public const string RebuildParameter = "torch._utils._rebuild_parameter";

    private static readonly Dictionary<string, SafetensorsDType> Storages = new(StringComparer.Ordinal)
    {
        ["DoubleStorage"] = SafetensorsDType.F64,
        ["FloatStorage"] = SafetensorsDType.F32,
        ["HalfStorage"] = SafetensorsDType.F16,
        ["BFloat16Storage"] = SafetensorsDType.BF16,
        ["LongStorage"] = SafetensorsDType.I64,
        ["IntStorage"] = SafetensorsDType.I32,
        ["ShortStorage"] = SafetensorsDType.I16,
        ["CharStorage"] = SafetensorsDType.I8,
        ["ByteStorage"] = SafetensorsDType.U8,
        ["BoolStorage"] = SafetensorsDType.BOOL,
    };

    /// <summary>The global, or null when a state dict has no business naming it.</summary>
    public static PickledGlobal? Resolve(string module, string name)
    {
        string full = $"{module}.{name}";
        if (full is OrderedDict or RebuildTensor or RebuildParameter)
            return new PickledGlobal(module, name, null);
        if (module == "torch" && Storages.TryGetValue(name, out var dtype))
            return new PickledGlobal(module, name, dtype);
        return null;
    }
}
