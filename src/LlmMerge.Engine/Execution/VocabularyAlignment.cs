using LlmMerge.Core;
using LlmMerge.Core.Recipes;
using LlmMerge.Modeling.Sources;
using LlmMerge.Tokenizers;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Execution;

/// <summary>
/// The output vocabulary of a recipe with a tokenizer source (mergekit's tokenizer/build.py) and how each model's
/// embedding and head rows are moved into it by token string (mergekit's tokenizer/embed.py, PermutedEmbeddings), so
/// the merge method then sees rows that stand for the same token in every model.
/// </summary>
public sealed class VocabularyAlignment
{
    private readonly string[] _tokens;
    private readonly Dictionary<ModelReference, int[]> _rowOf;
    private readonly Dictionary<ModelReference, IReadOnlyDictionary<string, int>> _originalVocabs;
    private readonly IReadOnlyDictionary<string, TokenEmbeddingSetting> _settings;

    private VocabularyAlignment(string source, ModelReference tokenizerModel, int? keepBelow, List<AddedTokenEntry> appended,
        string[] tokens, int rows, Dictionary<ModelReference, int[]> rowOf, Dictionary<ModelReference, IReadOnlyDictionary<string, int>> originalVocabs,
        IReadOnlyDictionary<string, TokenEmbeddingSetting> settings)
    {
        Source = source;
        TokenizerModel = tokenizerModel;
        KeepBelow = keepBelow;
        Appended = appended;
        _tokens = tokens;
        Rows = rows;
        _rowOf = rowOf;
        _originalVocabs = originalVocabs;
        _settings = settings;
    }

    /// <summary>The recipe's tokenizer source: <c>base</c>, <c>union</c> or a model.</summary>
    public string Source { get; }

    /// <summary>The model whose tokenizer files the output's are made from (the base's for <c>base</c> and <c>union</c>).</summary>
    public ModelReference TokenizerModel { get; }

    /// <summary>Tokens of <see cref="TokenizerModel"/> from this id on are dropped (past its config's vocab_size); null keeps all.</summary>
    public int? KeepBelow { get; }

    /// <summary>Tokens appended to <see cref="TokenizerModel"/>'s as added tokens, with their new ids.</summary>
    public IReadOnlyList<AddedTokenEntry> Appended { get; }

    /// <summary>Number of tokens of the output vocabulary (transformers' len(tokenizer)).</summary>
    public int TokenCount => _tokens.Count(t => t is not null);

    /// <summary>Rows of every aligned embedding and the output's vocab_size (padded to <c>pad_to_multiple_of</c>).</summary>
    public int Rows { get; }

    /// <summary>Whether the output's tokenizer files differ from <see cref="TokenizerModel"/>'s.</summary>
    public bool EditsTokenizer => KeepBelow is not null || Appended.Count > 0;

    /// <summary>Builds the output vocabulary and each model's token → row map, as mergekit's build_tokenizer does.</summary>
    /// <param name="recipe">The recipe, for its tokenizer source, tokens and padding.</param>
    /// <param name="baseModel">The recipe's base model, else the model the output config comes from (mergekit takes its first referenced model).</param>
    /// <param name="models">Every model of the merge.</param>
    /// <param name="open">Opens a model.</param>
    /// <param name="warnings">Receives what the user should know but that does not stop the merge.</param>
    public static VocabularyAlignment Build(MergeRecipe recipe, ModelReference baseModel, IReadOnlyList<ModelReference> models,
        Func<ModelReference, IModelSource> open, List<string> warnings)
    {
        string source = recipe.TokenizerSource ?? throw new ArgumentException("the recipe has no tokenizer source", nameof(recipe));
        var baseSource = open(baseModel);
        var baseRaw = TokenizerVocabulary.FromFolder(baseSource.Directory)
            ?? throw new LlmMergeException($"tokenizer_source: {source}: base model '{baseModel}' has no tokenizer.json in {baseSource.Directory}; "
                + "the output vocabulary is built from it (save the tokenizer there with transformers' fast tokenizer)");
        // mergekit's get_stripped_tokenizer: the base's tokens at or past its config's vocab_size have no embedding row.
        int baseLimit = baseSource.Config?.VocabSize ?? baseRaw.Vocab.Count;
        var baseVocab = baseRaw.Vocab.Where(kv => kv.Value < baseLimit).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        int? keepBelow = baseVocab.Count < baseRaw.Vocab.Count ? baseLimit : null;

        // Every model's token → id map; mergekit assumes the base's for a model whose tokenizer does not load.
        var vocabs = new Dictionary<ModelReference, IReadOnlyDictionary<string, int>> { [baseModel] = baseVocab };
        var tokenizers = new Dictionary<ModelReference, TokenizerVocabulary> { [baseModel] = baseRaw };
        foreach (var m in models.Where(m => m != baseModel))
        {
            if (TokenizerVocabulary.FromFolder(open(m).Directory) is { } v)
            {
                vocabs[m] = v.Vocab;
                tokenizers[m] = v;
            }
            else
            {
                warnings.Add($"tokenizer_source: model '{m}' has no tokenizer.json in {open(m).Directory}; its embedding rows are taken to be the base's tokens, as mergekit does");
            }
        }

        ModelReference tokenizerModel = baseModel;
        var outVocab = new Dictionary<string, int>(baseVocab, StringComparer.Ordinal);
        var appended = new List<AddedTokenEntry>();
        if (source == "union")
        {
            AppendUnion(baseModel, tokenizers, open, outVocab, appended, warnings);
        }
        else if (source != "base")
        {
            // Older mergekit wrote a model as model:PATH; newer takes the path itself. Both are read.
            tokenizerModel = ModelReference.Parse(source.StartsWith("model:", StringComparison.Ordinal) ? source["model:".Length..] : source);
            IModelSource src;
            try { src = open(tokenizerModel); }
            catch (LlmMergeException e) { throw new LlmMergeException($"tokenizer_source: {e.Message}", e); }
            // mergekit loads a named model's tokenizer as it is, without cutting it to that model's vocab_size.
            var own = TokenizerVocabulary.FromFolder(src.Directory)
                ?? throw new LlmMergeException($"tokenizer_source: model '{tokenizerModel}' has no tokenizer.json in {src.Directory}; name a model that has one, or use base or union");
            outVocab = new Dictionary<string, int>(own.Vocab, StringComparer.Ordinal);
            keepBelow = null;
        }

        // mergekit adds every token named under tokenizer.tokens to the output tokenizer (a no-op for those it has).
        foreach (var token in recipe.TokenEmbeddings.Keys)
            AddToken(outVocab, appended, new AddedTokenEntry(0, token, false, false, false, false, true));

        int count = outVocab.Count == 0 ? 0 : outVocab.Values.Max() + 1;
        var tokens = new string[count];
        foreach (var (tok, id) in outVocab)
            tokens[id] = tok;
        int rows = outVocab.Count;
        if (count != rows)
        {
            // A vocabulary with unused ids (transformers' len(tokenizer) is below the largest id + 1) gets a row per id,
            // so every token keeps its row; mergekit would index past its tensor here.
            warnings.Add($"tokenizer_source: {source}: the output vocabulary's ids run to {count - 1} but it holds {rows} tokens; the unused ids get zero rows");
            rows = count;
        }
        if (recipe.PadToMultipleOf is int pad && rows % pad != 0)
            rows = (rows / pad + 1) * pad;

        var rowOf = new Dictionary<ModelReference, int[]>();
        foreach (var m in models)
        {
            var vocab = vocabs.GetValueOrDefault(m) ?? baseVocab;
            int limit = open(m).Config?.VocabSize ?? vocab.Count;
            var map = new int[count];
            for (int id = 0; id < count; id++)
            {
                // A token at or past the model's vocab_size is padding there: mergekit warns and leaves it unmapped,
                // which it then fails on; llmmerge counts it as missing from that model.
                map[id] = tokens[id] is { } tok && vocab.TryGetValue(tok, out int row) && row < limit ? row : -1;
            }
            rowOf[m] = map;
        }

        // mergekit raises NotImplementedError for an entry without a source, forced or not.
        var missing = recipe.TokenEmbeddings.Keys.Where(t => recipe.TokenEmbeddings[t].Source is null).ToList();
        if (missing.Count > 0)
            throw new LlmMergeException($"tokenizer.tokens: '{missing[0]}' has no 'source'; give a model, {{kind: zero}} or {{kind: model_token, ...}}");
        var nowhere = Enumerable.Range(0, count).Where(id => tokens[id] is { } t && !recipe.TokenEmbeddings.ContainsKey(t) && rowOf.Values.All(r => r[id] < 0)).ToList();
        if (nowhere.Count > 0)
            warnings.Add($"tokenizer_source: {source}: {nowhere.Count} token(s) of the output vocabulary are in no model (e.g. '{tokens[nowhere[0]]}'); their rows are zero, as in mergekit");

        return new VocabularyAlignment(source, tokenizerModel, keepBelow, appended, tokens, rows, rowOf, vocabs, recipe.TokenEmbeddings);
    }

    /// <summary>
    /// mergekit's build_union_tokenizer: the other models' ordinary tokens the base lacks, then every added token
    /// (the first model's settings win), each given the next id. mergekit walks Python dicts filled from the Rust
    /// tokenizer's hash map, so its order of new tokens is not defined; llmmerge walks the base, then the other
    /// models in recipe order, each by id, so the same recipe always gives the same ids.
    /// </summary>
    private static void AppendUnion(ModelReference baseModel, Dictionary<ModelReference, TokenizerVocabulary> tokenizers,
        Func<ModelReference, IModelSource> open, Dictionary<string, int> outVocab, List<AddedTokenEntry> appended, List<string> warnings)
    {
        var ordinary = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var added = new Dictionary<string, AddedTokenEntry>(StringComparer.Ordinal);
        var addedOrder = new List<string>();
        foreach (var (model, tok) in tokenizers.OrderBy(kv => kv.Key == baseModel ? 0 : 1))
        {
            int limit = open(model).Config?.VocabSize ?? tok.Vocab.Count;
            var addedHere = tok.AddedTokens.Select(a => a.Content).ToHashSet(StringComparer.Ordinal);
            foreach (var (t, id) in tok.ById())
            {
                if (id < limit && !addedHere.Contains(t) && seen.Add(t))
                    ordinary.Add(t);
            }
            foreach (var a in tok.AddedTokens.Where(a => a.Id < limit).OrderBy(a => a.Id))
            {
                if (added.TryGetValue(a.Content, out var first))
                {
                    if (first.WithId(0) != a.WithId(0))
                        warnings.Add($"tokenizer_source: union: token '{a.Content}' is added with different settings in different models; the first ('{TokenizersOf(tokenizers, first)}') wins, as in mergekit");
                    continue;
                }
                added[a.Content] = a;
                addedOrder.Add(a.Content);
            }
        }
        foreach (var t in ordinary.Where(t => !added.ContainsKey(t)))
            AddToken(outVocab, appended, new AddedTokenEntry(0, t, false, false, false, false, true));
        foreach (var t in addedOrder)
            AddToken(outVocab, appended, added[t]);
    }

    private static string TokenizersOf(Dictionary<ModelReference, TokenizerVocabulary> tokenizers, AddedTokenEntry entry) =>
        tokenizers.First(kv => kv.Value.AddedTokens.Contains(entry)).Key.ToString();

    /// <summary>transformers' add_tokens: a token the vocabulary has keeps its id; a new one takes the next id.</summary>
    private static void AddToken(Dictionary<string, int> vocab, List<AddedTokenEntry> appended, AddedTokenEntry token)
    {
        if (vocab.ContainsKey(token.Content))
            return;
        // The last appended token holds the largest id; the vocabulary is scanned only for the first.
        int id = appended.Count > 0 ? appended[^1].Id + 1 : vocab.Count == 0 ? 0 : vocab.Values.Max() + 1;
        vocab[token.Content] = id;
        appended.Add(token.WithId(id));
    }

    /// <summary>The output row of every token for one model: its own row, or -1 where the model lacks the token.</summary>
    internal IReadOnlyList<int> RowsOf(ModelReference model) => _rowOf[model];

    /// <summary>
    /// Moves each input's rows into the output vocabulary (mergekit's PermutedEmbeddings.execute). A model keeps its
    /// own row for a token it has (unless tokenizer.tokens forces one); a token it lacks gets, in mergekit's order:
    /// the configured source; the row of the one model that has it; zero where none has it; the base's row where
    /// the base is an input and has it; else the mean of the rows of the inputs that have it. So a missing token is
    /// not left out of the weighted merge: it enters with that stand-in row. Rows past the vocabulary
    /// (pad_to_multiple_of) are each model's mean row.
    /// </summary>
    /// <param name="tensorName">The tensor, for messages.</param>
    /// <param name="inputs">Each input's model and its tensor (rows first) in the compute dtype.</param>
    /// <param name="baseModel">The base model of this tensor; its rows stand in only where it is one of the inputs.</param>
    public List<Tensor> Align(string tensorName, IReadOnlyList<(ModelReference Model, Tensor Rows)> inputs, ModelReference? baseModel)
    {
        int count = _tokens.Length;
        var first = inputs[0].Rows;
        var shape = first.shape.ToArray();
        shape[0] = Rows;
        foreach (var (model, t) in inputs)
        {
            if (!t.shape.Skip(1).SequenceEqual(first.shape.Skip(1)))
                throw new LlmMergeException($"tensor '{tensorName}': rows of '{model}' have shape [{string.Join(", ", t.shape.Skip(1))}], those of '{inputs[0].Model}' [{string.Join(", ", first.shape.Skip(1))}]; embeddings of different widths cannot be merged");
            int bad = Array.FindIndex(_rowOf[model], r => r >= t.shape[0]);
            if (bad >= 0)
                throw new LlmMergeException($"tensor '{tensorName}' of '{model}' has {t.shape[0]} rows but its tokenizer gives '{_tokens[bad]}' id {_rowOf[model][bad]}; check the model's tokenizer.json and vocab_size");
        }

        var models = inputs.Select(x => x.Model).Distinct().ToList();
        var tensorOf = models.ToDictionary(m => m, m => inputs.First(x => x.Model == m).Rows);
        bool baseIsInput = baseModel is not null && tensorOf.ContainsKey(baseModel);

        // Stand-in rows, only for tokens some input lacks or that tokenizer.tokens forces.
        var copies = models.ToDictionary(m => m, _ => (Out: new List<long>(), Rows: new List<long>()));
        var averaged = new List<long>();
        var zeroIds = new List<long>();
        var forced = new HashSet<int>();
        for (int id = 0; id < count; id++)
        {
            if (_tokens[id] is not { } token)
                continue;
            var setting = _settings.GetValueOrDefault(token);
            if (setting?.Force == true)
                forced.Add(id);
            var holders = models.Where(m => _rowOf[m][id] >= 0).ToList();
            if (setting is null && holders.Count == models.Count)
                continue;
            if (setting?.Source is { } src)
            {
                var (m, row) = Configured(tensorName, token, id, src, tensorOf);
                if (m is null)
                    zeroIds.Add(id);
                else
                {
                    copies[m].Out.Add(id);
                    copies[m].Rows.Add(row);
                }
            }
            else if (holders.Count == 1)
            {
                copies[holders[0]].Out.Add(id);
                copies[holders[0]].Rows.Add(_rowOf[holders[0]][id]);
            }
            else if (holders.Count == 0)
            {
                zeroIds.Add(id);
            }
            else if (baseIsInput && _rowOf[baseModel!][id] >= 0)
            {
                copies[baseModel!].Out.Add(id);
                copies[baseModel!].Rows.Add(_rowOf[baseModel!][id]);
            }
            else
            {
                averaged.Add(id);
            }
        }

        using var scope = NewDisposeScope();
        var defaults = zeros(shape, first.dtype, first.device);
        foreach (var (m, (outIds, rows)) in copies)
        {
            if (outIds.Count > 0)
                defaults.index_copy_(0, tensor(outIds.ToArray()), tensorOf[m].index_select(0, tensor(rows.ToArray())));
        }
        if (averaged.Count > 0)
        {
            var sums = zeros([averaged.Count, .. shape.Skip(1)], first.dtype, first.device);
            var counts = new float[averaged.Count];
            foreach (var m in models)
            {
                var at = new List<long>();
                var rows = new List<long>();
                for (int i = 0; i < averaged.Count; i++)
                {
                    int row = _rowOf[m][(int)averaged[i]];
                    if (row >= 0)
                    {
                        at.Add(i);
                        rows.Add(row);
                        counts[i]++;
                    }
                }
                if (at.Count > 0)
                    sums.index_add_(0, tensor(at.ToArray()), tensorOf[m].index_select(0, tensor(rows.ToArray())), 1);
            }
            long[] countShape = [averaged.Count, .. Enumerable.Repeat(1L, shape.Length - 1)];
            var mean = sums / tensor(counts).to(first.dtype).to(first.device).reshape(countShape);
            defaults.index_copy_(0, tensor(averaged.ToArray()), mean);
        }

        var result = new List<Tensor>();
        foreach (var (model, t) in inputs)
        {
            var map = _rowOf[model];
            var own = Enumerable.Range(0, count).Where(id => map[id] >= 0 && !forced.Contains(id)).ToList();
            var aligned = defaults.clone();
            if (own.Count > 0)
                aligned.index_copy_(0, tensor(own.Select(id => (long)id).ToArray()), t.index_select(0, tensor(own.Select(id => (long)map[id]).ToArray())));
            if (Rows > count && count > 0)
                aligned.narrow(0, count, Rows - count).copy_(aligned.narrow(0, 0, count).mean([0L], keepdim: true).expand([Rows - count, .. shape.Skip(1)]));
            result.Add(aligned.MoveToOuterDisposeScope());
        }
        return result;
    }

    /// <summary>A tokenizer.tokens source: the input and row it names, or no input for a zero row.</summary>
    private (ModelReference? Model, long Row) Configured(string tensorName, string token, int id, TokenEmbeddingSource source, Dictionary<ModelReference, Tensor> tensorOf)
    {
        switch (source)
        {
            case TokenEmbeddingSource.Zero:
                return (null, 0);
            case TokenEmbeddingSource.Model(var m):
                if (!tensorOf.ContainsKey(m))
                    throw new LlmMergeException($"tokenizer.tokens['{token}']: model '{m}' is not an input of tensor '{tensorName}'; name a model of the merge");
                return _rowOf[m][id] >= 0 ? (m, _rowOf[m][id])
                    : throw new LlmMergeException($"tokenizer.tokens['{token}']: model '{m}' has no token '{token}'; use kind: model_token to take another token's row");
            case TokenEmbeddingSource.ModelToken(var m, var tokenId, var name):
                if (!tensorOf.TryGetValue(m, out var t))
                    throw new LlmMergeException($"tokenizer.tokens['{token}']: model '{m}' is not an input of tensor '{tensorName}'; name a model of the merge");
                long row = tokenId ?? (_originalVocabs.GetValueOrDefault(m) is { } v && v.TryGetValue(name!, out int r) ? r
                    : throw new LlmMergeException($"tokenizer.tokens['{token}']: model '{m}' has no token '{name}'"));
                return row < t.shape[0] ? (m, row)
                    : throw new LlmMergeException($"tokenizer.tokens['{token}']: token id {row} is out of range for model '{m}' ({t.shape[0]} rows in '{tensorName}')");
            default:
                throw new InvalidOperationException(source.ToString());
        }
    }
}
