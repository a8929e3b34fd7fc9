namespace LlmMerge.Eval.Scoring;

/// <summary>Where an evaluation is: the task, rows done of its total, and time spent on it.</summary>
public readonly record struct EvalProgress(string Task, int RowsDone, int RowsTotal, TimeSpan Elapsed);
