namespace LlmMerge.Eval.Routing;

/// <summary>Task routing's decision for one task: the expert every row goes to, from each expert's validation accuracy.</summary>
/// <param name="Task">The task's name, as RESULTS.json names it.</param>
/// <param name="Expert">The expert with the best validation accuracy (the first listed among equals).</param>
/// <param name="ValidationFile">The validation task file that decided (as the config named it).</param>
/// <param name="Scores">Each expert's validation accuracy, by name.</param>
public sealed record RouterTaskChoice(string Task, string Expert, string ValidationFile, IReadOnlyDictionary<string, double> Scores);
