using LlmMerge.Core;

namespace LlmMerge.Eval.Tasks;

/// <summary>Loads a task file by its kind: the competition's CSV, or an lm-eval task YAML.</summary>
public static class TaskLoader
{
    /// <summary>Loads <paramref name="path"/>; <paramref name="numFewshot"/> overrides a YAML task's num_fewshot.</summary>
    public static EvalTask Load(string path, int? numFewshot = null)
    {
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".csv":
                if (numFewshot > 0)
                    throw new LlmMergeException($"{path}: --num-fewshot applies to task YAMLs; a competition CSV row's input is already the whole prompt.");
                return CompetitionCsvTask.Load(path);
            case ".yaml" or ".yml":
                return YamlTask.Load(path, numFewshot);
            default:
                throw new LlmMergeException($"{path}: unknown task file kind; give a competition CSV (.csv) or an lm-eval task YAML (.yaml).");
        }
    }
}
