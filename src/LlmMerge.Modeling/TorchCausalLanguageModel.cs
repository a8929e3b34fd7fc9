using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// <see cref="ICausalLanguageModel"/> on a TorchSharp decoder. Scoring runs the contexts of a batch of requests once,
/// right-padded to the longest (the causal mask alone keeps padding out, so the long pass keeps the fused causal
/// attention kernel), and then every request's continuations in right-padded batches against the contexts'
/// key/value cache, each row at its own positions with the contexts' padding masked. Generation runs the distinct
/// prompts once the same way and decodes one token per row per step against the cache, dropping rows from the
/// batch as they finish.
/// </summary>
public sealed class TorchCausalLanguageModel : ICausalLanguageModel
{
    private readonly Device _device;

    /// <summary>Wraps a model whose weights are set; this object owns and disposes it.</summary>
    public TorchCausalLanguageModel(DecoderForCausalLM model)
    {
        Model = model;
        model.eval();
        _device = model.parameters().First().device;
    }

    /// <summary>The module tree, for callers that need more than log-likelihoods (hidden states, saving).</summary>
    public DecoderForCausalLM Model { get; }

    public int MaxSequenceLength => Model.Config.MaxPositionEmbeddings;

    public int VocabSize => Model.Config.VocabSize;

    /// <summary>
    /// Upper bound on the float32 log-probabilities held at once (rows x positions x vocab, 256 MB by default);
    /// beyond it the continuations are scored in several batches, so a long vocabulary with many choices fits.
    /// </summary>
    internal long MaxLogProbElements { get; set; } = 64L << 20;

    /// <summary>
    /// Upper bound on the keys and values a continuation batch attends to (rows x slots x heads x head_dim, each of
    /// keys and values; 64M elements by default): every continuation row reads its own copy of its context's cache.
    /// </summary>
    internal long MaxAttendedElements { get; set; } = 64L << 20;

    public IReadOnlyList<ContinuationScore> ScoreContinuations(IReadOnlyList<int> context, IReadOnlyList<IReadOnlyList<int>> continuations) =>
        ScoreBatch([new ScoringRequest(context, continuations)])[0];

    public IReadOnlyList<IReadOnlyList<ContinuationScore>> ScoreBatch(IReadOnlyList<ScoringRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        foreach (var r in requests)
            CheckScoring(r.Context, r.Continuations);
        var results = requests.Select(r => new ContinuationScore[r.Continuations.Count]).ToArray();
        var live = Enumerable.Range(0, requests.Count).Where(i => requests[i].Continuations.Count > 0).ToArray();
        if (live.Length == 0)
            return results;

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var cache = Model.NewCache();
        var contexts = live.Select(i => requests[i].Context).ToList();
        var hidden = RunPrompts(contexts, cache, out long[] lengths);

        // Each row's last context token predicts its continuations' first tokens; only that slot goes through the
        // vocabulary projection.
        var contextLogProbs = Model.Logits(LastSlots(hidden, lengths)).to(ScalarType.Float32).log_softmax(-1).view(live.Length, -1);
        var argmax = contextLogProbs.argmax(-1).cpu().data<long>().ToArray();
        var firstIndex = new List<long>();
        for (int row = 0; row < live.Length; row++)
        {
            foreach (var c in requests[live[row]].Continuations)
                firstIndex.Add(((long)row * VocabSize) + c[0]);
        }
        var first = contextLogProbs.view(-1).index_select(0, tensor(firstIndex.ToArray(), device: _device)).cpu().data<float>().ToArray();
        var items = new List<(int Row, int Request, int Choice)>();
        int n = 0;
        for (int row = 0; row < live.Length; row++)
        {
            var request = requests[live[row]];
            for (int c = 0; c < request.Continuations.Count; c++, n++)
            {
                results[live[row]][c] = new ContinuationScore(first[n], request.Continuations[c][0] == argmax[row]);
                if (request.Continuations[c].Count > 1)
                    items.Add((row, live[row], c));
            }
        }

        // Continuation token k (k >= 1) is predicted at the slot of token k-1, so each continuation feeds its tokens
        // but the last, right-padded among themselves, where the causal mask keeps padding out of real positions.
        if (items.Count == 0)
            return results;
        int steps = items.Max(i => requests[i.Request].Continuations[i.Choice].Count) - 1;
        long attendedPerRow = (cache.Length + steps) * (long)Model.Config.NumAttentionHeads * Model.Config.HeadDim;
        int rowsPerBatch = (int)Math.Clamp(Math.Min(MaxLogProbElements / ((long)steps * VocabSize), MaxAttendedElements / attendedPerRow), 1, items.Count);
        for (int start = 0; start < items.Count; start += rowsPerBatch)
        {
            using var batchScope = NewDisposeScope();
            int rows = Math.Min(rowsPerBatch, items.Count - start);
            var inputs = new long[rows * steps];
            var targets = new long[rows * steps];
            var cacheRows = new long[rows];
            for (int r = 0; r < rows; r++)
            {
                var (row, request, choice) = items[start + r];
                cacheRows[r] = row;
                var c = requests[request].Continuations[choice];
                for (int k = 0; k < c.Count - 1; k++)
                {
                    inputs[r * steps + k] = c[k];
                    targets[r * steps + k] = c[k + 1];
                }
            }
            var h = Model.HiddenStates(tensor(inputs, device: _device).view(rows, steps), cache, store: false, cacheRows: live.Length == 1 ? null : cacheRows);
            var logProbs = Model.Logits(h).to(ScalarType.Float32).log_softmax(-1);
            var targetIds = tensor(targets, device: _device).view(rows, steps);
            var tokenLogProbs = logProbs.gather(2, targetIds.unsqueeze(-1)).squeeze(-1).cpu().data<float>().ToArray();
            var isArgmax = logProbs.argmax(-1).eq(targetIds).cpu().data<bool>().ToArray();
            for (int r = 0; r < rows; r++)
            {
                var (_, request, choice) = items[start + r];
                var c = requests[request].Continuations[choice];
                var (sum, greedy) = results[request][choice];
                for (int k = 0; k < c.Count - 1; k++)
                {
                    sum += tokenLogProbs[r * steps + k];
                    greedy &= isArgmax[r * steps + k];
                }
                results[request][choice] = new ContinuationScore(sum, greedy);
            }
        }
        return results;
    }

    public IReadOnlyList<int> GenerateGreedy(IReadOnlyList<int> prompt, int maxNewTokens, IReadOnlySet<int> stopTokens) =>
        Generate([new GenerationRequest(prompt, maxNewTokens, stopTokens)])[0];

    public IReadOnlyList<IReadOnlyList<int>> Generate(IReadOnlyList<GenerationRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        foreach (var r in requests)
            CheckPrompt(r.Prompt);
        var outputs = requests.Select(_ => new List<int>()).ToArray();
        var active = Enumerable.Range(0, requests.Count).Where(i => requests[i].MaxNewTokens > 0).ToList();
        if (active.Count == 0)
            return outputs;
        var samplers = requests.Select(r => r.Sampling is null ? null : new TokenSampler(r.Sampling)).ToArray();

        // Requests with the same prompt (repeats of a sampled row) share one pass over it.
        var prompts = new List<IReadOnlyList<int>>();
        var promptOf = new Dictionary<string, int>(StringComparer.Ordinal);
        var rowPrompt = new long[active.Count];
        for (int i = 0; i < active.Count; i++)
        {
            var p = requests[active[i]].Prompt;
            string key = string.Join(',', p);
            if (!promptOf.TryGetValue(key, out int index))
            {
                promptOf[key] = index = prompts.Count;
                prompts.Add(p);
            }
            rowPrompt[i] = index;
        }

        using var noGrad = no_grad();
        using var cache = Model.NewCache();
        using var outer = NewDisposeScope();
        var hidden = RunPrompts(prompts, cache, out long[] lengths);
        var logits = Model.Logits(LastSlots(hidden, lengths)).to(ScalarType.Float32).view(prompts.Count, -1);
        if (prompts.Count != active.Count || rowPrompt.Where((p, i) => p != i).Any())
        {
            cache.SelectRows(rowPrompt);
            logits = logits.index_select(0, tensor(rowPrompt, device: _device));
        }
        logits = logits.DetachFromDisposeScope();

        try
        {
            while (true)
            {
                using var step = NewDisposeScope();
                var next = NextTokens(logits, active, requests, samplers);
                var feed = new long[active.Count];
                var keep = new List<int>();
                for (int i = 0; i < active.Count; i++)
                {
                    int r = active[i];
                    var request = requests[r];
                    if (request.StopTokens.Contains(next[i]))
                        continue;
                    outputs[r].Add(next[i]);
                    // Prompt and output together fit the model's positions: the caller truncates, the model does not
                    // extrapolate.
                    if (outputs[r].Count >= request.MaxNewTokens || request.Prompt.Count + outputs[r].Count >= MaxSequenceLength)
                        continue;
                    if (request.StopAfter?.Invoke(outputs[r]) == true)
                        continue;
                    feed[i] = next[i];
                    keep.Add(i);
                }
                if (keep.Count == 0)
                    break;
                if (keep.Count < active.Count)
                {
                    // Finished rows leave the batch: their cache rows are dropped so later steps run only live rows.
                    var rows = keep.Select(i => (long)i).ToArray();
                    cache.SelectRows(rows);
                    feed = keep.Select(i => feed[i]).ToArray();
                    active = keep.Select(i => active[i]).ToList();
                }
                var h = Model.HiddenStates(tensor(feed, device: _device).view(active.Count, 1), cache, store: true);
                var newLogits = Model.Logits(h).to(ScalarType.Float32).view(active.Count, -1).DetachFromDisposeScope();
                logits.Dispose();
                logits = newLogits;
            }
        }
        finally
        {
            logits.Dispose();
        }
        return outputs;
    }

    // The rows right-padded to the longest, run once and stored in the cache with their lengths.
    private Tensor RunPrompts(IReadOnlyList<IReadOnlyList<int>> rows, KeyValueCache cache, out long[] lengths)
    {
        int width = rows.Max(p => p.Count);
        lengths = rows.Select(p => (long)p.Count).ToArray();
        var ids = new long[rows.Count * width];
        for (int row = 0; row < rows.Count; row++)
        {
            for (int t = 0; t < rows[row].Count; t++)
                ids[row * width + t] = rows[row][t];
        }
        return Model.HiddenStates(tensor(ids, device: _device).view(rows.Count, width), cache, store: true, lengths: lengths);
    }

    // Each row's hidden state at its last real token, [rows, 1, hidden].
    private Tensor LastSlots(Tensor hidden, long[] lengths)
    {
        long width = hidden.shape[1];
        if (lengths.All(l => l == width))
            return hidden.narrow(1, width - 1, 1);
        var flat = hidden.reshape(-1, hidden.shape[2]);
        var index = tensor(lengths.Select((l, r) => (r * width) + l - 1).ToArray(), device: _device);
        return flat.index_select(0, index).unsqueeze(1);
    }

    private static int[] NextTokens(Tensor logits, List<int> active, IReadOnlyList<GenerationRequest> requests, TokenSampler?[] samplers)
    {
        var next = logits.argmax(-1).cpu().data<long>().Select(t => (int)t).ToArray();
        if (active.All(r => samplers[r] is null))
            return next;
        var all = logits.cpu().data<float>().ToArray();
        int vocab = (int)logits.shape[1];
        for (int i = 0; i < active.Count; i++)
        {
            if (samplers[active[i]] is TokenSampler sampler)
                next[i] = sampler.Next(all.AsSpan(i * vocab, vocab));
        }
        return next;
    }

    private void CheckScoring(IReadOnlyList<int> context, IReadOnlyList<IReadOnlyList<int>> continuations)
    {
        if (context.Count == 0)
            throw new ArgumentException("the context must hold at least one token (encode it with BOS, or move the continuation's first token into it)", nameof(context));
        CheckIds(context, nameof(context));
        int longest = 0;
        for (int i = 0; i < continuations.Count; i++)
        {
            if (continuations[i].Count == 0)
                throw new ArgumentException($"continuation {i} is empty; each needs at least one token", nameof(continuations));
            CheckIds(continuations[i], nameof(continuations));
            longest = Math.Max(longest, continuations[i].Count);
        }
        if (context.Count + longest > MaxSequenceLength)
            throw new ArgumentException($"context ({context.Count} tokens) plus the longest continuation ({longest}) exceeds the model's {MaxSequenceLength} positions; cut the context from the left", nameof(context));
    }

    private void CheckPrompt(IReadOnlyList<int> prompt)
    {
        if (prompt.Count == 0)
            throw new ArgumentException("the prompt must hold at least one token", nameof(prompt));
        CheckIds(prompt, nameof(prompt));
        if (prompt.Count >= MaxSequenceLength)
            throw new ArgumentException($"the prompt ({prompt.Count} tokens) leaves no room in the model's {MaxSequenceLength} positions; cut it from the left", nameof(prompt));
    }

    private void CheckIds(IReadOnlyList<int> ids, string parameter)
    {
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(parameter, id, $"token id {id} is outside the model's vocabulary (0..{VocabSize - 1}); tokenizer and model do not match");
        }
    }

    public void Dispose() => Model.Dispose();
}
