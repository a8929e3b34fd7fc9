using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LlmMerge.Build.Tests.Cluster;

/// <summary>
/// A private redis-server on a free loopback port, no persistence, for one test fixture; stopped (and waited for)
/// on dispose. Debian's redis-server is installed with apt-get when it is missing (CI runs on a clean machine as
/// root); when it cannot be had the fixture fails with a message that says so: the cluster tests never pass silently.
/// </summary>
internal sealed class RedisServer : IDisposable
{
    private readonly Process _process;

    public int Port { get; }

    /// <summary>The cluster address of database <paramref name="db"/> (each test its own, so memberships never mix).</summary>
    public string Cluster(int db) => $"redis://127.0.0.1:{Port}/{db}";

    public RedisServer()
    {
        string server = Find() ?? Install();
        Port = FreePort();
        var psi = new ProcessStartInfo(server)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--databases", "32" })
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!Answers())
        {
            if (_process.HasExited || DateTime.UtcNow > until)
                Assert.Fail($"redis-server ({server}) did not start on port {Port}");
            Thread.Sleep(100);
        }
    }

    private bool Answers()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            using var stream = client.GetStream();
            stream.Write("PING\r\n"u8);
            var buffer = new byte[16];
            return stream.Read(buffer) > 0 && buffer[0] == (byte)'+';
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/sbin")
            .Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists);

    private static string Install()
    {
        string log = "";
        foreach (string command in new[] { "apt-get update -qq", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server" })
        {
            var psi = new ProcessStartInfo("/bin/sh", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEndAsync().Result + p.StandardError.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
                p.Kill(entireProcessTree: true);
            log += $"$ {command}\n{output}\n";
        }
        return Find() ?? throw new AssertionException(
            "The cluster tests need Debian's redis-server and it is not installed; `apt-get install -y redis-server` failed here:\n" + log);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
    }
}
