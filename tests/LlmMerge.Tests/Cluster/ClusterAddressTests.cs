using LlmMerge.Cluster;
using LlmMerge.Cluster.Jobs;
using LlmMerge.Core;

namespace LlmMerge.Tests.Cluster;

/// <summary>The spellings of --cluster and the job keys built from a fingerprint and a command.</summary>
public sealed class ClusterAddressTests
{
    [Test]
    public void ParsesLocalhostAndRedis()
    {
        var local = ClusterAddress.Parse("localhost");
        Assert.That((local.IsRedis, local.LocalhostBasePort, local.IsLoopback), Is.EqualTo((false, 11111, true)));
        Assert.That(ClusterAddress.Parse("localhost:20000").LocalhostBasePort, Is.EqualTo(20000));
        var redis = ClusterAddress.Parse("redis://10.1.2.3:7000/4");
        Assert.That((redis.RedisHost, redis.RedisPort, redis.RedisDatabase, redis.IsLoopback), Is.EqualTo(("10.1.2.3", 7000, 4, false)));
        Assert.That(ClusterAddress.Parse("redis://127.0.0.1").RedisPort, Is.EqualTo(6379));
        Assert.That(ClusterAddress.Parse("redis://127.0.0.1:6380").IsLoopback, Is.True);
    }

    [TestCase("redis://:6379")]
    [TestCase("redis://host:port")]
    [TestCase("redis://host:6379/x")]
    [TestCase("zookeeper://host")]
    [TestCase("localhost:99999")]
    public void RefusesOtherSpellingsNamingTheValue(string text)
    {
        var e = Assert.Throws<LlmMergeException>(() => ClusterAddress.Parse(text));
        Assert.That(e!.Message, Does.Contain(text));
    }

    [Test]
    public void JobKeysStartWithTheFingerprintAndSeparateCommands()
    {
        string fp = new('a', 64);
        string k1 = JobKeys.GrainKey(fp, ["merge", "r.yml", "/x/out"], "/x");
        Assert.That(k1, Does.StartWith(fp + "/"));
        Assert.That(JobKeys.GrainKey(fp, ["merge", "r.yml", "/x/out"], "/x"), Is.EqualTo(k1), "one command, one grain");
        Assert.That(JobKeys.GrainKey(fp, ["merge", "r.yml", "/y/out"], "/x"), Is.Not.EqualTo(k1), "another output folder is another run");
        Assert.That(JobKeys.GrainKey(fp, ["merge", "r.yml /x/out"], "/x"), Is.Not.EqualTo(k1), "arguments are not joined ambiguously");
        string longKey = JobKeys.GrainKey("eval:" + string.Join('+', Enumerable.Repeat(new string('b', 32), 8)), ["eval"], "/x");
        Assert.That(longKey.Length, Is.LessThan(64));
    }

    [Test]
    public void ErrorMessageIsTheVerbsOwnLine()
    {
        var r = new JobResult(1, "", ["merge: 3/9 tensors", "llmmerge: error: /a/b.yml: no such file"], "w1", 0.5, 0, 1);
        Assert.That(r.ErrorMessage(), Is.EqualTo("/a/b.yml: no such file"));
        Assert.That(new JobResult(137, "", [], "w1", 0.5, 0, 1).ErrorMessage(), Is.EqualTo("exit code 137"));
    }
}
