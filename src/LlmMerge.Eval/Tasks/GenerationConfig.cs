namespace LlmMerge.Eval.Tasks;

/// <summary>
/// How a task's generation rows are generated: lm-eval's <c>generation_kwargs</c> after its normalize_gen_kwargs
/// (lm_eval/models/utils.py at 4e7e0d47), or the competition starter kit's greedy decoding to EOS.
/// </summary>
public sealed record GenerationConfig
{
    /// <summary>lm-eval's HFLM.max_gen_toks: new tokens when generation_kwargs do not say.</summary>
    public const int DefaultMaxGenToks = 256;

    /// <summary>Stop sequences: generation ends once the text holds one, and the text is cut before the first (lm-eval adds EOS's text).</summary>
    public IReadOnlyList<string> Until { get; init; } = [];

    /// <summary>Most new tokens.</summary>
    public int MaxGenToks { get; init; } = DefaultMaxGenToks;

    /// <summary>Sample instead of decoding greedily.</summary>
    public bool DoSample { get; init; }

    /// <summary>Sampling temperature (0 when greedy).</summary>
    public double Temperature { get; init; }

    /// <summary>top_k when given; otherwise the model's generation_config.json, else transformers' 50.</summary>
    public int? TopK { get; init; }

    /// <summary>top_p when given; otherwise the model's generation_config.json, else 1.</summary>
    public double? TopP { get; init; }

    /// <summary>The generation_kwargs as the task gives them (with lm-eval's default until), for SAMPLES.jsonl's arguments.</summary>
    public IReadOnlyDictionary<string, object?> Arguments { get; init; } = new Dictionary<string, object?>();

    /// <summary>lm-eval's default_gen_kwargs(fewshot_delimiter): greedy, 256 tokens, until the few-shot delimiter.</summary>
    public static GenerationConfig Default(string fewshotDelimiter) => new()
    {
        Until = [fewshotDelimiter],
        Arguments = new Dictionary<string, object?>
        {
            ["until"] = new List<object?> { fewshotDelimiter },
            ["do_sample"] = false,
            ["temperature"] = 0.0,
            ["max_gen_toks"] = (long)DefaultMaxGenToks,
        },
    };
}
