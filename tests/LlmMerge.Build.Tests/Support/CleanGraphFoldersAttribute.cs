using NUnit.Framework.Interfaces;

[assembly: LlmMerge.Build.Tests.Support.CleanGraphFolders]

namespace LlmMerge.Build.Tests.Support;

/// <summary>After each test: deletes its graph folders if it passed, keeps them (and says where) if not.</summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class CleanGraphFoldersAttribute : Attribute, ITestAction
{
    public ActionTargets Targets => ActionTargets.Test;

    public void BeforeTest(ITest test) => GraphFolder.Created.Clear();

    public void AfterTest(ITest test)
    {
        bool passed = TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Passed;
        foreach (string dir in GraphFolder.Created.Where(Directory.Exists))
        {
            if (passed)
                Directory.Delete(dir, recursive: true);
            else
                TestContext.Out.WriteLine($"kept {dir} for inspection");
        }
        GraphFolder.Created.Clear();
    }
}
