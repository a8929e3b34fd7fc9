namespace LlmMerge.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        ParentWatch.StartIfAsked();
        return CliApp.Run(args, Console.Out, Console.Error);
    }
}
