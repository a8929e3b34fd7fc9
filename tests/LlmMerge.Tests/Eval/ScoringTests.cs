using LlmMerge.Core;
using LlmMerge.Eval.Scoring;
using LlmMerge.Eval.Tasks;
using LlmMerge.Tokenizers;

namespace LlmMerge.Tests.Eval;

/// <summary>How rows become token sequences and scores, checked against the contract worked out independently here.</summary>
public class ScoringTests
{
    private static EvalRow Row(string context, params string[] choices) =>
        new("r1", context, choices, 0, null, RowKind.MultipleChoice, "test:1");

    [Test]
    public void ContinuationTokensAreTheJointEncodingBeyondTheContext()
    {
        var (dir, tok) = EvalTokenizer.InTemp(addBos: true);
        using var _ = dir;
        var model = new FakeCausalLm();
        string context = "Question: Is the sky blue?\nAnswer:";
        new MultipleChoiceScorer(model, tok, ScoringMode.LmEval).Score(Row(context, "yes", "no"), " ");

        // The contract: context as a prompt is encoded (with BOS), continuation = " " + choice, its tokens those of
        // the joint encoding beyond the context's.
        var ctx = tok.Encode(context, addSpecialTokens: true);
        Assert.That(ctx[0], Is.EqualTo(tok.BosTokenId));
        var yes = tok.Encode(context + " yes", addSpecialTokens: true).Skip(ctx.Count).ToArray();
        var no = tok.Encode(context + " no", addSpecialTokens: true).Skip(ctx.Count).ToArray();

        Assert.That(model.ScoreCalls, Has.Count.EqualTo(1), "choices sharing a context run on one pass");
        Assert.That(model.ScoreCalls[0].Context, Is.EqualTo(ctx));
        Assert.That(model.ScoreCalls[0].Continuations, Is.EqualTo(new[] { yes, no }));
        Assert.That(tok.Decode(yes), Is.EqualTo(" yes"));
    }

    [Test]
    public void TrailingWhitespaceOfTheContextMovesToTheContinuation()
    {
        var (dir, tok) = EvalTokenizer.InTemp(addBos: true);
        using var _ = dir;
        var model = new FakeCausalLm();
        new MultipleChoiceScorer(model, tok, ScoringMode.LmEval).Score(Row("Answer: ", "yes"), "");

        var ctx = tok.Encode("Answer:", addSpecialTokens: true);
        var cont = tok.Encode("Answer: yes", addSpecialTokens: true).Skip(ctx.Count).ToArray();
        Assert.That(model.ScoreCalls[0].Context, Is.EqualTo(ctx));
        Assert.That(model.ScoreCalls[0].Continuations[0], Is.EqualTo(cont));
        Assert.That(tok.Decode(cont), Is.EqualTo(" yes"));
    }

    [Test]
    public void WithoutBosTheContextIsThePlainEncodingAndAnEmptyContextIsTheSpecialToken()
    {
        var (dir, tok) = EvalTokenizer.InTemp(addBos: false);
        using var _ = dir;
        var model = new FakeCausalLm();
        var scorer = new MultipleChoiceScorer(model, tok, ScoringMode.LmEval);
        scorer.Score(Row("Is grass red?", "no"), " ");
        Assert.That(model.ScoreCalls[0].Context, Is.EqualTo(tok.Encode("Is grass red?", addSpecialTokens: false)));

        scorer.Score(Row("", "no"), " ");
        Assert.That(model.ScoreCalls[1].Context, Is.EqualTo(new[] { tok.EosTokenId!.Value }));
        Assert.That(model.ScoreCalls[1].Continuations[0], Is.EqualTo(tok.Encode(" no", addSpecialTokens: false)));
    }

    [Test]
    public void AccAndAccNormCanPickDifferentAnswers()
    {
        var (dir, tok) = EvalTokenizer.InTemp();
        using var _ = dir;
        // Every token costs the same, so the short choice has the higher sum; per character the long one wins.
        var model = new FakeCausalLm(_ => -1.0);
        string context = "Question: Is the sky blue?\nAnswer:";
        string shortChoice = "xq", longChoice = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
        var scores = new MultipleChoiceScorer(model, tok, ScoringMode.LmEval).Score(Row(context, shortChoice, longChoice), " ");

        int ctxLen = tok.Encode(context).Count;
        double llShort = -(tok.Encode(context + " " + shortChoice).Count - ctxLen);
        double llLong = -(tok.Encode(context + " " + longChoice).Count - ctxLen);
        Assert.That(scores.LogLikelihoods, Is.EqualTo(new[] { llShort, llLong }));

        // Worked out by hand: acc takes the larger sum; acc_norm divides by len(choice) in characters, as lm-eval.
        int acc = llShort >= llLong ? 0 : 1;
        int accNorm = llShort / shortChoice.Length >= llLong / longChoice.Length ? 0 : 1;
        Assume.That(acc, Is.Not.EqualTo(accNorm), "the choices were picked so the two metrics disagree");
        Assert.That(scores.Prediction, Is.EqualTo(acc));
        Assert.That(scores.PredictionNorm, Is.EqualTo(accNorm));
    }

    [Test]
    public void AccNormDividesByCodePointsAndTiesGoToTheFirst()
    {
        Assert.That(ChoiceMetrics.CodePoints("é😀a"), Is.EqualTo(3));
        Assert.That(ChoiceMetrics.ArgMax([-1.0, -1.0, -2.0]), Is.EqualTo(0));
        // -3/3 = -1 for "abc" against -2.2/2 = -1.1 for "😀é" (2 code points, 3 UTF-16 units).
        Assert.That(ChoiceMetrics.ArgMaxNormalized([-2.2, -3.0], ["😀é", "abc"]), Is.EqualTo(1));
    }

    [Test]
    public void StarterKitScoresChoicesAloneWithEosAndSkipsTheFirstToken()
    {
        var (dir, tok) = EvalTokenizer.InTemp(addBos: true);
        using var _ = dir;
        var model = new FakeCausalLm(t => -0.5 - (t % 5));
        string input = "Question: Is grass red?\nAnswer:";
        var row = Row(input, "yes", "no way", "A");
        var scores = new MultipleChoiceScorer(model, tok, ScoringMode.StarterKit).Score(row, " ");

        var inputIds = tok.Encode(input, addSpecialTokens: true);
        int eos = tok.EosTokenId!.Value;
        for (int c = 0; c < row.Choices.Count; c++)
        {
            // The kit's target tokenizer: the choice alone, no BOS, then EOS; logits[:-1] against ids[1:].
            int[] ids = [.. tok.Encode(row.Choices[c], addSpecialTokens: false), eos];
            double expected = ids.Skip(1).Sum(model.LogProb);
            Assert.That(scores.LogLikelihoods[c], Is.EqualTo(expected).Within(1e-12), $"choice {c}");
            var call = model.ScoreCalls.Single(k => k.Context.SequenceEqual([.. inputIds, ids[0]]));
            Assert.That(call.Continuations, Has.Some.EqualTo(ids.Skip(1).ToArray()));
        }

        Assert.That(scores.LogLikelihoods[2], Is.EqualTo(model.LogProb(eos)), "a one-token choice scores only its EOS");
        Assert.That(scores.Prediction, Is.EqualTo(ChoiceMetrics.ArgMax(scores.LogLikelihoods)));
    }

    [Test]
    public void StarterKitCutsTheInputFromTheRightAtTheTokenizersMaxLength()
    {
        var (dir, tok) = EvalTokenizer.InTemp(addBos: true, modelMaxLength: 5);
        using var _ = dir;
        var ids = StarterKitEncoding.EncodeInput(tok, "The cat sat on the mat. The dog sat on the log.");
        Assert.That(ids, Is.EqualTo(tok.Encode("The cat sat on the mat. The dog sat on the log.").Take(5)));
    }

    [Test]
    public void LongContextsAreCutFromTheLeftSoEachChoiceFits()
    {
        var (dir, tok) = EvalTokenizer.InTemp();
        using var _ = dir;
        const int max = 16;
        var model = new FakeCausalLm(maxSequenceLength: max);
        string context = string.Concat(Enumerable.Repeat("The cat sat on the mat. ", 6)) + "Answer:";
        string[] choices = ["no", "a very different person indeed"];
        var scores = new MultipleChoiceScorer(model, tok, ScoringMode.LmEval).Score(Row(context, choices), " ");

        var full = tok.Encode(context, addSpecialTokens: true);
        Assert.That(full.Count, Is.GreaterThan(max));
        Assert.That(scores.Truncated);
        foreach (string choice in choices)
        {
            var cont = tok.Encode(context + " " + choice).Skip(full.Count).ToArray();
            // Each choice keeps the last (max - its length) context tokens, BOS gone with the rest.
            var expectedContext = full.Skip(full.Count - (max - cont.Length)).ToArray();
            var call = model.ScoreCalls.Single(c => c.Continuations.Any(k => k.SequenceEqual(cont)));
            Assert.That(call.Context, Is.EqualTo(expectedContext), choice);
        }

        Assert.That(model.ScoreCalls, Has.Count.EqualTo(2), "different kept contexts are separate passes");
    }

    [Test]
    public void AChoiceLongerThanTheWindowIsAnError()
    {
        var (dir, tok) = EvalTokenizer.InTemp();
        using var _ = dir;
        var model = new FakeCausalLm(maxSequenceLength: 4);
        var e = Assert.Throws<LlmMergeException>(() =>
            new MultipleChoiceScorer(model, tok, ScoringMode.LmEval).Score(Row("Q", "a very different person indeed"), " "));
        Assert.That(e!.Message, Does.Contain("test:1").And.Contain("4-token window"));
    }

    [Test]
    public void GenerationIsGreedyToMaxGenLenOrEosAndCutsThePromptFromTheLeft()
    {
        var (dir, tok) = EvalTokenizer.InTemp();
        using var _ = dir;
        var model = new FakeCausalLm(maxSequenceLength: 20);
        int eos = tok.EosTokenId!.Value;
        model.Generation = [.. tok.Encode(" The cat sat.", addSpecialTokens: false), eos, .. tok.Encode(" never", addSpecialTokens: false)];
        string prompt = string.Concat(Enumerable.Repeat("The dog sat on the log. ", 4)) + "A summary is";
        var row = new EvalRow("g", prompt, [], null, null, RowKind.Generation, "test:2");

        var (text, tokens) = GenerateCsvRow(model, tok, ScoringMode.LmEval, row, maxGenLen: 8);
        Assert.That(text, Is.EqualTo(" The cat sat."), "stops at EOS, which is not part of the text");
        var call = model.GenerateCalls.Single();
        var full = tok.Encode(prompt, addSpecialTokens: true);
        Assert.That(call.Prompt, Is.EqualTo(full.Skip(full.Count - 12).ToArray()), "20-token window less 8 new tokens");
        Assert.That(call.MaxNewTokens, Is.EqualTo(8));
        Assert.That(call.Stop, Is.EqualTo(new[] { eos }));
        Assert.That(tokens, Is.EqualTo(12 + tok.Encode(" The cat sat.", addSpecialTokens: false).Count));
    }

    [Test]
    public void GenerationDefaultsToTheStarterKitsSixtyFourTokens()
    {
        var (dir, tok) = EvalTokenizer.InTemp();
        using var _ = dir;
        var model = new FakeCausalLm { Generation = Enumerable.Repeat(tok.Encode("a", addSpecialTokens: false)[0], 100).ToArray() };
        var (text, _) = GenerateCsvRow(model, tok, ScoringMode.StarterKit, new EvalRow("g", "Write", [], null, null, RowKind.Generation, "t"));
        Assert.That(text, Is.EqualTo(new string('a', 64)));
    }

    // A competition-CSV generation row, as the eval verb answers it.
    private static (string Text, long Tokens) GenerateCsvRow(FakeCausalLm model, HfTokenizer tok, ScoringMode mode, EvalRow row, int maxGenLen = GenerationScorer.DefaultMaxGenLen)
    {
        var scorer = new GenerationScorer(tok, mode, maxGenLen);
        var task = new EvalTask("t", "t.csv", " ", [], 0, [row]);
        var prepared = scorer.Fit(scorer.Encode(row, task, row.Context), model.MaxSequenceLength);
        var generated = ((LlmMerge.Modeling.ICausalLanguageModel)model).Generate(prepared.Requests);
        return (scorer.Finish(prepared, generated)[0], prepared.PromptTokens + generated[0].Count);
    }
}
