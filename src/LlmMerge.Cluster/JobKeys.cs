using System.Security.Cryptography;
using System.Text;

namespace LlmMerge.Cluster;

/// <summary>
/// A job's grain key: the caller's key (a step's fingerprint, an evaluation's pair keys, a search candidate's
/// fingerprint), shortened to a hash when long, then a short hash of the command. The fingerprint alone names what
/// is computed, not where it is written: two checkouts whose graphs share a step write it to two folders, and each
/// needs its own run; two builds of one checkout send the same command and meet in one grain.
/// </summary>
public static class JobKeys
{
    public static string GrainKey(string key, IReadOnlyList<string> arguments, string workingDirectory)
    {
        string head = key.Length <= 80 ? key : "h" + Sha256(key)[..40];
        string command = Sha256(workingDirectory + "\0" + string.Join('\0', arguments))[..12];
        return $"{head}/{command}";
    }

    private static string Sha256(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)));
}
