using LlmMerge.Core;
using LlmMerge.Eval.Scoring;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Tokenizers;
using static TorchSharp.torch;

namespace LlmMerge.Eval.Moe;

/// <summary>One task's routing: over every token of its rows and every mixture layer, how often each expert was the router's first choice and how often it was among the k chosen.</summary>
/// <param name="Task">The task's name (as RESULTS.json names it).</param>
/// <param name="Tokens">Token positions read (each counted once per mixture layer in the shares).</param>
/// <param name="TopOne">Per expert, the share of (token, layer) pairs whose highest router probability is that expert's.</param>
/// <param name="TopK">Per expert, the share of (token, layer) pairs that route to it at all (among the top k).</param>
public sealed record TaskRouting(string Task, long Tokens, double[] TopOne, double[] TopK);

/// <summary>
/// Measures where a mixture-of-experts model's routers send a task's tokens: each row is read as evaluation reads
/// it (the lm-eval encoding of context, target delimiter and the correct choice, or the context alone for rows
/// without a target), and the router logits of every mixture layer are captured.
/// </summary>
public static class RouterUsage
{
    public static IReadOnlyList<TaskRouting> Measure(string modelDir, IReadOnlyList<string> taskFiles, int? limit = null, string device = "cpu")
    {
        var tasks = taskFiles.Select(t => TaskLoader.Load(t)).ToList();
        var tokenizer = HfTokenizer.FromFolder(modelDir);
        using var model = CausalLmLoader.LoadModel(modelDir, device);
        var moe = model.Model.Config.Moe ?? throw new LlmMergeException($"{modelDir}: {model.Model.Config.Architecture} is not a mixture of experts; router usage needs a Mixtral or Qwen2-MoE model");
        int experts = moe.NumExperts, k = moe.ExpertsPerToken;
        var dev = model.Model.parameters().First().device;
        var result = new List<TaskRouting>();
        using var noGrad = no_grad();
        foreach (var task in tasks)
        {
            var first = new long[experts];
            var any = new long[experts];
            long tokens = 0, pairs = 0;
            using var capture = model.Model.Capture(new ActivationCapture
            {
                RouterLogits = (_, logits) =>
                {
                    // Softmax is monotone: the logits' order is the probabilities' order.
                    var top = logits.topk(k, dim: -1).indexes.cpu().data<long>().ToArray();
                    for (int i = 0; i < top.Length; i++)
                    {
                        any[top[i]]++;
                        if (i % k == 0)
                        {
                            first[top[i]]++;
                            pairs++;
                        }
                    }
                },
            });
            foreach (var row in limit is int n ? task.Rows.Take(n) : task.Rows)
            {
                using var scope = NewDisposeScope();
                IReadOnlyList<int> ids;
                if (row.Kind == RowKind.MultipleChoice && row.Target is int target)
                {
                    var (context, continuation) = LmEvalEncoding.EncodePair(tokenizer, row.Context, task.TargetDelimiter + row.Choices[target]);
                    ids = [.. context, .. continuation];
                }
                else
                {
                    ids = tokenizer.Encode(row.Context);
                }
                if (ids.Count == 0)
                    continue;
                ids = ids.Skip(Math.Max(0, ids.Count - model.MaxSequenceLength)).ToList();
                tokens += ids.Count;
                model.Model.HiddenStates(tensor(ids.Select(t => (long)t).ToArray(), device: dev).view(1, ids.Count), null, store: false);
            }
            double Share(long c) => pairs > 0 ? (double)c / pairs : 0;
            result.Add(new TaskRouting(task.Name, tokens, first.Select(Share).ToArray(), any.Select(Share).ToArray()));
        }
        return result;
    }
}
