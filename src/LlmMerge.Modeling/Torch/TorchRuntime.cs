using LlmMerge.Core;
using TorchSharp;

namespace LlmMerge.Modeling.Torch;

/// <summary>Starts libtorch once and resolves the device a user asked for, failing clearly where it is absent.</summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _initialized;

    /// <summary>Loads the native backend and uses every core for intra-op parallelism.</summary>
    public static void Initialize()
    {
        lock (Gate)
        {
            if (_initialized)
                return;
            try
            {
                torch.set_num_threads(Environment.ProcessorCount);
            }
            catch (TypeInitializationException e)
            {
                throw new LlmMergeException(
                    "libtorch could not be loaded (" + (e.InnerException?.Message.Split('\n')[0] ?? e.Message) + "). "
                    + "Rebuild the project so build/TorchSharpCompat.targets can patch libLibTorchSharp.so for this system's libstdc++.", e);
            }
            _initialized = true;
        }
    }

    /// <summary>Parses --device (cpu, cuda, cuda:N); cuda without a visible GPU is an error that says what to do.</summary>
    public static torch.Device ResolveDevice(string? name)
    {
        Initialize();
        string n = string.IsNullOrWhiteSpace(name) ? "cpu" : name.Trim().ToLowerInvariant();
        if (n == "cpu")
            return torch.CPU;
        if (n == "cuda" || n.StartsWith("cuda:", StringComparison.Ordinal))
        {
            bool available;
            try { available = torch.cuda.is_available(); }
            catch (Exception) { available = false; }
            if (!available)
                throw new LlmMergeException(
                    $"--device {name}: no CUDA device is available (this build's libtorch backend is '{BuildInfo.TorchBackend}'); "
                    + "use --device cpu, or on a machine with an NVIDIA GPU build with -p:LlmMergeTorchBackend=cuda");
            return torch.device(n);
        }
        throw new LlmMergeException($"--device {name}: unknown device; use cpu, cuda or cuda:N");
    }
}
