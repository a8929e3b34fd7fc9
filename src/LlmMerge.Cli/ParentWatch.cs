namespace LlmMerge.Cli;

/// <summary>
/// A cluster worker runs each job as an llmmerge process whose standard input is a pipe from the worker, with
/// LLMMERGE_EXIT_WITH_STDIN=1. When the worker dies, even by SIGKILL, the kernel closes that pipe: this thread reads
/// end of file and ends the process, so a dead worker's job does not go on writing beside the run that replaces it
/// (its partial output stays in a temporary folder that nothing reads).
/// </summary>
internal static class ParentWatch
{
    public const string Variable = "LLMMERGE_EXIT_WITH_STDIN";

    public static void StartIfAsked()
    {
        if (Environment.GetEnvironmentVariable(Variable) != "1")
            return;
        var thread = new Thread(() =>
        {
            try
            {
                using var input = Console.OpenStandardInput();
                var buffer = new byte[256];
                while (input.Read(buffer, 0, buffer.Length) > 0)
                {
                }
            }
            catch (IOException)
            {
            }
            Console.Error.WriteLine("llmmerge: error: the worker that ran this job is gone; stopping");
            Environment.Exit(137);
        }) { IsBackground = true, Name = "llmmerge parent watch" };
        thread.Start();
    }
}
