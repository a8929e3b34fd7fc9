using LlmMerge.Cli;

namespace LlmMerge.Tests.Support;

/// <summary>Runs llmmerge in-process and captures what a user would see.</summary>
public static class CliRunner
{
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }
}
