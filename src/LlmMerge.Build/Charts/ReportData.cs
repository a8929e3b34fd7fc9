namespace LlmMerge.Build.Charts;

/// <summary>One scored model of the report: its role, its colour, its accuracy per task and its step's wall time.</summary>
internal sealed record ReportModel(string Name, ModelRole Role, string Method, string Colour, IReadOnlyList<double?> Scores, double? StepSeconds)
{
    /// <summary>The mean over tasks, when every task is scored.</summary>
    public double? Average => Scores.Count > 0 && Scores.All(s => s is not null) ? Scores.Average() : null;
}

/// <summary>What the charts draw: the tasks, their chance levels, and the models in report order.</summary>
internal sealed record ReportData(IReadOnlyList<string> Tasks, IReadOnlyList<double?> Chance, IReadOnlyList<ReportModel> Models)
{
    /// <summary>From this many models on, the report adds accuracy against each step's time.</summary>
    public const int ManyModels = 8;

    /// <summary>Models with their colours given in order, so no two share one.</summary>
    public static ReportData Create(IReadOnlyList<string> tasks, IReadOnlyList<double?> chance, IReadOnlyList<(string Name, ModelRole Role, string Method, IReadOnlyList<double?> Scores, double? Seconds)> models)
    {
        var colours = ModelPalette.Colours(models.Count);
        return new ReportData(tasks, chance, [.. models.Select((m, i) => new ReportModel(m.Name, m.Role, m.Method, colours[i], m.Scores, m.Seconds))]);
    }
}
