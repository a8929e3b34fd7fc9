using LlmMerge.Core;
using TorchSharp;

namespace LlmMerge.Modeling.Torch;

/// <summary>Starts libtorch once and resolves the device a user asked for, failing clearly where it is absent.</summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _initialized;

    /// <summary>
    /// Loads the native backend with its OpenMP threads waiting passively, and sets its intra-op threads (every core,
    /// or <c>LLMMERGE_THREADS</c>).
    /// </summary>
    public static void Initialize()
    {
        lock (Gate)
        {
            if (_initialized)
                return;
            PassiveOpenMpWait();
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

    /// <summary>
    /// libgomp reads OMP_WAIT_POLICY once, when libtorch loads it; its default lets idle threads spin, which is
    /// fast alone and ruinous beside other work: two zoo evaluations at once beside other builds (load 15) took 152 s
    /// spinning against 8.6 s passive, and one evaluation at load 20 34 s against 3.3 s. The
    /// thread count stays the same, so results do not change. Set through libc (Environment.SetEnvironmentVariable does
    /// not reach native code on Unix) and only where the user has not set it; must run before libtorch loads.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void PassiveOpenMpWait()
    {
        if ((OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
            _ = setenv("OMP_WAIT_POLICY\0"u8.ToArray(), "PASSIVE\0"u8.ToArray(), 0);
    }

    // NUL-terminated ASCII bytes rather than strings: nothing to marshal.
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv(byte[] name, byte[] value, int overwrite);

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
