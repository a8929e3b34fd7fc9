using LlmMerge.Core;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;

namespace LlmMerge.Eval.Scoring;

/// <summary>
/// Generation rows, prepared as lm-eval's HFLM.generate_until prepares them (lm_eval/models/huggingface.py at
/// 4e7e0d47): the prompt encoded (BOS unless the prompt already starts with it), cut from the left to leave room for
/// max_gen_toks, decoded greedily or sampled (normalize_gen_kwargs), stopped at EOS or once the text holds a stop
/// sequence, decoded with special tokens skipped and cut before the first stop sequence (postprocess_generated_text).
/// The competition CSV's rows are the starter kit's generate: its input encoding under <c>--scoring starter-kit</c>,
/// greedy to EOS or <c>--max-gen-len</c>, no stop sequences.
/// </summary>
public sealed class GenerationScorer
{
    /// <summary>The starter kit's max_gen_len (llm_merging/merging/*.py set self.max_gen_len = 64).</summary>
    public const int DefaultMaxGenLen = 64;

    // transformers' GenerationConfig defaults, for sampling when neither the task nor generation_config.json says.
    private const int TransformersTopK = 50;
    private const double TransformersTopP = 1.0;

    private readonly HfTokenizer _tokenizer;
    private readonly ScoringMode _mode;
    private readonly int _maxGenLen;
    private readonly ulong _seed;
    private readonly (int? TopK, double? TopP) _modelDefaults;

    /// <summary>
    /// A scorer for rows tokenized by <paramref name="tokenizer"/>; CSV rows write at most <paramref name="maxGenLen"/>
    /// tokens; sampled rows draw from streams derived from <paramref name="seed"/>; <paramref name="modelDefaults"/> are
    /// the model's generation_config.json top_k and top_p.
    /// </summary>
    public GenerationScorer(HfTokenizer tokenizer, ScoringMode mode, int maxGenLen = DefaultMaxGenLen, ulong seed = 1234, (int? TopK, double? TopP) modelDefaults = default)
    {
        if (maxGenLen < 1) throw new ArgumentOutOfRangeException(nameof(maxGenLen), maxGenLen, "at least one new token");
        _tokenizer = tokenizer;
        _mode = mode;
        _maxGenLen = maxGenLen;
        _seed = seed;
        _modelDefaults = modelDefaults;
    }

    /// <summary>The row's prompt encoded, before it is fitted to a model.</summary>
    public EncodedPrompt Encode(EvalRow row, EvalTask task, string context)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(task);
        IReadOnlyList<int> prompt = task.IsGenerateUntil || _mode == ScoringMode.LmEval
            ? (task.IsGenerateUntil ? LmEvalEncoding.EncodePrompt(_tokenizer, context) : LmEvalEncoding.Encode(_tokenizer, context))
            : StarterKitEncoding.EncodeInput(_tokenizer, context);
        if (prompt.Count == 0)
        {
            prompt = _tokenizer.BosTokenId is int bos ? [bos]
                : _tokenizer.EosTokenId is int eos ? [eos]
                : throw new LlmMergeException($"{row.Source}: row id {row.Id}: the input encodes to no tokens.");
        }

        return new EncodedPrompt(row, task, context, prompt);
    }

    /// <summary>The row's generation requests (one per repeat), fitted to a model of <paramref name="maxSequenceLength"/> positions.</summary>
    public PreparedGeneration Fit(EncodedPrompt encoded, int maxSequenceLength)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        var task = encoded.Task;
        var config = task.Generation;
        int maxNew = config?.MaxGenToks ?? _maxGenLen;
        if (config is not null && maxNew >= maxSequenceLength)
            throw new LlmMergeException($"{task.SourcePath}: max_gen_toks {maxNew} leaves no room for a prompt in the model's {maxSequenceLength} positions.");
        int room = Math.Max(1, maxSequenceLength - maxNew);
        var prompt = encoded.Prompt;
        bool truncated = prompt.Count > room;
        if (truncated) prompt = prompt.Skip(prompt.Count - room).ToArray();
        maxNew = Math.Min(maxNew, maxSequenceLength - prompt.Count);

        var stop = new HashSet<int>();
        if (_tokenizer.EosTokenId is int eosId) stop.Add(eosId);
        IReadOnlyList<string> until = Until(config);
        Func<IReadOnlyList<int>, bool>? stopAfter = until.Count == 0 ? null
            : tokens =>
            {
                string text = _tokenizer.Decode(tokens, skipSpecialTokens: true);
                return until.Any(u => text.Contains(u, StringComparison.Ordinal));
            };
        SamplingSettings? Sampling(int repeat) => config is { DoSample: true }
            ? new SamplingSettings(config.Temperature, config.TopK ?? _modelDefaults.TopK ?? TransformersTopK, config.TopP ?? _modelDefaults.TopP ?? TransformersTopP,
                RowSeed(task.Name, encoded.Row.Id, repeat))
            : null;
        var requests = Enumerable.Range(0, task.IsGenerateUntil ? task.Repeats : 1)
            .Select(r => new GenerationRequest(prompt, Math.Max(0, maxNew), stop) { StopAfter = stopAfter, Sampling = Sampling(r) })
            .ToList();
        return new PreparedGeneration(encoded, requests, truncated);
    }

    /// <summary>The generated texts, one per repeat: special tokens skipped, cut before the first stop sequence.</summary>
    public IReadOnlyList<string> Finish(PreparedGeneration prepared, IReadOnlyList<IReadOnlyList<int>> generated)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(generated);
        var until = Until(prepared.Encoded.Task.Generation);
        return generated.Select(tokens =>
        {
            string text = _tokenizer.Decode(tokens, skipSpecialTokens: true);
            foreach (string u in until)
            {
                int at = text.IndexOf(u, StringComparison.Ordinal);
                if (at >= 0) text = text[..at];
            }

            return text;
        }).ToList();
    }

    // lm-eval's handle_stop_sequences adds EOS's text to until; empty stop sequences are ignored (postprocess_generated_text).
    private List<string> Until(GenerationConfig? config)
    {
        var until = (config?.Until ?? []).Where(u => u.Length > 0).ToList();
        if (config is not null && _tokenizer.EosTokenId is int eos && _tokenizer.Decode([eos]) is { Length: > 0 } eosText && !until.Contains(eosText))
            until.Add(eosText);
        return until;
    }

    // One stream per (task, row, repeat), so a row samples the same tokens whichever batch it runs in.
    private ulong RowSeed(string task, string id, int repeat)
    {
        ulong h = 14695981039346656037UL ^ _seed;
        foreach (char c in $"{task}\n{id}\n{repeat}")
        {
            h ^= c;
            h *= 1099511628211UL;
        }

        return h;
    }
}

/// <summary>A generation row's prompt encoded: the row, its task, the context text and its token ids.</summary>
public sealed record EncodedPrompt(EvalRow Row, EvalTask Task, string Context, IReadOnlyList<int> Prompt);

/// <summary>A generation row's requests fitted to a model, one per repeat, and whether its prompt was cut.</summary>
public sealed record PreparedGeneration(EncodedPrompt Encoded, IReadOnlyList<GenerationRequest> Requests, bool Truncated)
{
    /// <summary>The tokens generated for each request, once the model has run.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Generated { get; init; } = [];

    /// <summary>Prompt tokens run (once, whatever the repeats).</summary>
    public long PromptTokens => Requests.Count == 0 ? 0 : Requests[0].Prompt.Count;
}
