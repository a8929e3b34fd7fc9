namespace LlmMerge.Eval.Routing;

/// <summary>How a routed system picks its expert.</summary>
public enum RoutingKind
{
    /// <summary>Per row: the query's hidden state in the base against each expert's prompt prototype (cosine).</summary>
    Query,

    /// <summary>Per task: every row of a task to the expert with the best validation score on it.</summary>
    Task,

    /// <summary>Per token inside the forward pass: Arrow over LoRA adapters of one base.</summary>
    Arrow,
}
