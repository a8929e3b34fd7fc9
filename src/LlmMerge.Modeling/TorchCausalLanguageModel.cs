using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// <see cref="ICausalLanguageModel"/> on a TorchSharp decoder: the context runs once, its key/value cache is shared
/// by a right-padded batch of all continuations, and greedy decoding feeds one token at a time against the cache.
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

    public IReadOnlyList<ContinuationScore> ScoreContinuations(IReadOnlyList<int> context, IReadOnlyList<IReadOnlyList<int>> continuations)
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
        if (continuations.Count == 0)
            return [];

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var cache = Model.NewCache();
        var hidden = Model.HiddenStates(Ids([context]), cache, store: true);
        // The last context position predicts every continuation's first token; only it needs the vocabulary projection.
        var contextLogProbs = Model.Logits(hidden.narrow(1, context.Count - 1, 1)).to(ScalarType.Float32).log_softmax(-1).view(-1);
        long contextArgmax = contextLogProbs.argmax().item<long>();
        var firstIds = tensor(continuations.Select(c => (long)c[0]).ToArray(), device: _device);
        var firstLogProbs = contextLogProbs.index_select(0, firstIds).cpu().data<float>().ToArray();

        var results = new ContinuationScore[continuations.Count];
        for (int i = 0; i < results.Length; i++)
            results[i] = new ContinuationScore(firstLogProbs[i], continuations[i][0] == contextArgmax);

        // Continuation token k (k >= 1) is predicted at the position of token k-1, so each row feeds its tokens
        // but the last; rows are padded on the right, where the causal mask keeps padding out of real positions.
        int steps = longest - 1;
        if (steps == 0)
            return results;
        int rowsPerBatch = (int)Math.Clamp(MaxLogProbElements / ((long)steps * VocabSize), 1, continuations.Count);
        for (int start = 0; start < continuations.Count; start += rowsPerBatch)
        {
            using var batchScope = NewDisposeScope();
            int rows = Math.Min(rowsPerBatch, continuations.Count - start);
            var inputs = new long[rows * steps];
            var targets = new long[rows * steps];
            for (int r = 0; r < rows; r++)
            {
                var c = continuations[start + r];
                for (int k = 0; k < c.Count - 1; k++)
                {
                    inputs[r * steps + k] = c[k];
                    targets[r * steps + k] = c[k + 1];
                }
            }
            var h = Model.HiddenStates(tensor(inputs, device: _device).view(rows, steps), cache, store: false);
            var logProbs = Model.Logits(h).to(ScalarType.Float32).log_softmax(-1);
            var targetIds = tensor(targets, device: _device).view(rows, steps);
            var tokenLogProbs = logProbs.gather(2, targetIds.unsqueeze(-1)).squeeze(-1).cpu().data<float>().ToArray();
            var isArgmax = logProbs.argmax(-1).eq(targetIds).cpu().data<bool>().ToArray();
            for (int r = 0; r < rows; r++)
            {
                var c = continuations[start + r];
                var (sum, greedy) = results[start + r];
                for (int k = 0; k < c.Count - 1; k++)
                {
                    sum += tokenLogProbs[r * steps + k];
                    greedy &= isArgmax[r * steps + k];
                }
                results[start + r] = new ContinuationScore(sum, greedy);
            }
        }
        return results;
    }

    public IReadOnlyList<int> GenerateGreedy(IReadOnlyList<int> prompt, int maxNewTokens, IReadOnlySet<int> stopTokens)
    {
        if (prompt.Count == 0)
            throw new ArgumentException("the prompt must hold at least one token", nameof(prompt));
        CheckIds(prompt, nameof(prompt));
        if (prompt.Count >= MaxSequenceLength)
            throw new ArgumentException($"the prompt ({prompt.Count} tokens) leaves no room in the model's {MaxSequenceLength} positions; cut it from the left", nameof(prompt));
        var output = new List<int>();
        if (maxNewTokens <= 0)
            return output;

        using var noGrad = no_grad();
        using var cache = Model.NewCache();
        long[] feed = prompt.Select(t => (long)t).ToArray();
        while (true)
        {
            using var step = NewDisposeScope();
            var hidden = Model.HiddenStates(tensor(feed, device: _device).view(1, feed.Length), cache, store: true);
            var logits = Model.Logits(hidden.narrow(1, feed.Length - 1, 1)).to(ScalarType.Float32);
            int next = (int)logits.view(-1).argmax().item<long>();
            if (stopTokens.Contains(next))
                break;
            output.Add(next);
            // Prompt and output together fit the model's positions, as ScoreContinuations asks of context and
            // continuation: the caller truncates, the model does not extrapolate.
            if (output.Count >= maxNewTokens || prompt.Count + output.Count >= MaxSequenceLength)
                break;
            feed = [next];
        }
        return output;
    }

    private Tensor Ids(IReadOnlyList<int>[] rows)
    {
        var flat = rows.SelectMany(r => r.Select(t => (long)t)).ToArray();
        return tensor(flat, device: _device).view(rows.Length, rows[0].Count);
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
