using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmMerge.Core.Models;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Torch;
using LlmMerge.Zoo.Skills;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Zoo;

/// <summary>
/// Makes the zoo from one seed: a tokenizer from the zoo's corpus, a base pretrained on every skill's format with
/// random answers, one full fine-tuned expert per skill, rank-8 LoRA experts, a multi-task model, and the tasks.
/// </summary>
public static class ZooGenerator
{
    /// <summary>The linear layers LoRA adapts (all of a Llama block's, as is common for small models).</summary>
    public static readonly string[] LoraTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    public static void Run(ZooOptions o, Action<string> log)
    {
        TorchRuntime.Initialize();
        var clock = Stopwatch.StartNew();
        string tokenizerDir = Path.Combine(Path.GetTempPath(), $"llmmerge-zoo-tokenizer-{Guid.NewGuid():N}");
        try
        {
            var tokenizer = ZooTokenizer.Build(tokenizerDir, o.Seed, o.VocabSize);
            int eos = tokenizer.EosTokenId!.Value;
            var configJson = ZooModelShape.Config(o.VocabSize, eos);
            var config = CausalLmArchitectures.ReadConfig(new ModelConfig(configJson));
            log($"zoo: tokenizer of {tokenizer.VocabSize} tokens; model {config.HiddenSize} wide, {config.NumHiddenLayers} layers");

            torch.manual_seed(o.Seed);
            using var model = CausalLmArchitectures.Create(config, CPU, ScalarType.Float32);
            model.InitializeWeights(o.Seed);
            var all = model.parameters().ToList();
            log($"zoo: {all.Sum(p => p.numel()):N0} parameters");

            ZooTrainer.Train(model, all, tokenizer, ZooCorpus.Pretraining, Scaled(o.Pretraining, o), o.Seed + 1, "base", log);
            Save(model, o, "base", configJson, tokenizerDir);
            var baseWeights = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

            int phaseSeed = o.Seed + 100;
            foreach (var skill in SkillCatalog.All)
            {
                Restore(model, baseWeights);
                ZooTrainer.Train(model, all, tokenizer, r => ZooCorpus.FineTuning(skill, r), Scaled(o.Expert, o), phaseSeed++, "expert-" + skill.Name, log);
                Save(model, o, "expert-" + skill.Name, configJson, tokenizerDir);
            }

            Restore(model, baseWeights);
            ZooTrainer.Train(model, all, tokenizer, r => ZooCorpus.FineTuning(SkillCatalog.All[r.Next(SkillCatalog.All.Count)], r), Scaled(o.MultiTask, o), phaseSeed++, "multitask", log);
            Save(model, o, "multitask", configJson, tokenizerDir);

            foreach (string name in o.LoraSkills)
            {
                var skill = SkillCatalog.Get(name);
                Restore(model, baseWeights);
                TrainLora(model, tokenizer, skill, o, phaseSeed++, log);
            }

            foreach (var skill in SkillCatalog.All)
                WriteTasks(skill, o);
            ZooManifest.Write(o.ModelsDir);
            log($"zoo: done in {clock.Elapsed.TotalMinutes:F1} min");
        }
        finally
        {
            if (Directory.Exists(tokenizerDir))
                Directory.Delete(tokenizerDir, recursive: true);
        }
    }

    private static TrainingSchedule Scaled(TrainingSchedule s, ZooOptions o) => s with { Steps = Math.Max(1, (int)(s.Steps * o.StepScale)) };

    private static void Save(DecoderForCausalLM model, ZooOptions o, string name, JsonObject config, string tokenizerDir) =>
        ZooModelWriter.SaveModel(Path.Combine(o.ModelsDir, name), config, model.NamedParametersForSaving(), tokenizerDir);

    private static void Restore(DecoderForCausalLM model, Dictionary<string, Tensor> weights)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
            p.copy_(weights[name]);
    }

    private static void TrainLora(DecoderForCausalLM model, Tokenizers.HfTokenizer tokenizer, ISkill skill, ZooOptions o, int seed, Action<string> log)
    {
        var targets = model.named_modules()
            .Where(m => m.module is LinearProjection && LoraTargets.Contains(m.name[(m.name.LastIndexOf('.') + 1)..]))
            .Select(m => (m.name, Linear: (LinearProjection)m.module)).ToList();
        foreach (var p in model.parameters())
            p.requires_grad = false;
        var generator = new Generator((ulong)seed);
        double scale = (double)o.LoraAlpha / o.LoraRank;
        foreach (var (_, linear) in targets)
            linear.AttachLora(o.LoraRank, scale, generator);
        try
        {
            var trainable = targets.SelectMany(t => t.Linear.LoraParameters).ToList();
            string name = "lora-" + skill.Name;
            ZooTrainer.Train(model, trainable, tokenizer, r => ZooCorpus.FineTuning(skill, r), Scaled(o.Lora, o), seed, name, log);
            // PEFT's saved names: the wrapped model's path under base_model.model, without the adapter name.
            var tensors = targets.SelectMany(t => new[]
            {
                ($"base_model.model.{t.name}.lora_A.weight", t.Linear.LoraA!),
                ($"base_model.model.{t.name}.lora_B.weight", t.Linear.LoraB!),
            }).ToList();
            var adapterConfig = new JsonObject
            {
                ["peft_type"] = "LORA",
                ["task_type"] = "CAUSAL_LM",
                ["base_model_name_or_path"] = "../base",
                ["r"] = o.LoraRank,
                ["lora_alpha"] = o.LoraAlpha,
                ["lora_dropout"] = 0.0,
                ["target_modules"] = new JsonArray(LoraTargets.Select(t => (JsonNode)t).ToArray()),
                ["fan_in_fan_out"] = false,
                ["use_rslora"] = false,
                ["bias"] = "none",
            };
            ZooModelWriter.SaveAdapter(Path.Combine(o.ModelsDir, name), adapterConfig, tensors);
        }
        finally
        {
            foreach (var (_, linear) in targets)
                linear.DetachLora();
            foreach (var p in model.parameters())
                p.requires_grad = true;
        }
    }

    private static void WriteTasks(ISkill skill, ZooOptions o)
    {
        string dir = Path.Combine(o.TasksDir, skill.Name);
        foreach (var (split, count, seed) in new[] { (ItemSplit.Validation, o.ValidationItems, 7), (ItemSplit.Test, o.TestItems, 8) })
        {
            var items = TaskFiles.Items(skill, split, count, seed);
            string stem = split == ItemSplit.Validation ? "validation" : "test";
            TaskFiles.WriteJsonl(Path.Combine(dir, stem + ".jsonl"), items);
            TaskFiles.WriteCompetitionCsv(Path.Combine(dir, $"{skill.Name}_{stem}.csv"), items);
            TaskFiles.WriteTaskYaml(Path.Combine(dir, $"{skill.Name}_{stem}.yaml"), skill.Name + "_" + stem, stem + ".jsonl");
        }
    }
}
