using LlmMerge.Core;
using TorchSharp;

namespace LlmMerge.Modeling.Torch;

/// <summary>Starts libtorch once and resolves the device a user asked for, failing clearly where it is absent.</summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _initialized;

    /// <summary>
    /// Loads the native backend and sets its intra-op threads: every core, or <c>LLMMERGE_THREADS</c> where a caller
    /// runs several processes at once (a merge graph's parallel nodes), since libtorch's threads spin while they wait
    /// and two processes each using every core run at half the speed of one after the other.
    /// </summary>
    public static void Initialize()
    {
        lock (Gate)
        {
            if (_initialized)
                return;
            try
            {
                torch.set_num_threads(Threads());
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

    /// <summary>Intra-op threads: a positive <c>LLMMERGE_THREADS</c>, else one per core.</summary>
    public static int Threads() =>
        int.TryParse(Environment.GetEnvironmentVariable("LLMMERGE_THREADS"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n > 0
            ? n : Environment.ProcessorCount;

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
