using System.Text.Json.Nodes;
using LlmMerge.Modeling;
using LlmMerge.Tests.Support;
using LlmMerge.Tokenizers;
using LlmMerge.Zoo;
using LlmMerge.Zoo.Skills;

namespace LlmMerge.Tests.Zoo;

/// <summary>The zoo generator runs end to end with a few steps, and its skills keep their splits apart.</summary>
public class ZooGeneratorTests
{
    [Test]
    public void AFewStepsMakeEveryModelAdapterAndTaskFile()
    {
        using var dir = new TempDir();
        var tiny = new TrainingSchedule(Steps: 2, BatchSize: 4, LearningRate: 1e-3);
        var options = new ZooOptions
        {
            ModelsDir = dir["zoo"],
            TasksDir = dir["tasks"],
            Pretraining = tiny,
            Expert = tiny,
            MultiTask = tiny,
            Lora = tiny,
            ValidationItems = 5,
            TestItems = 6,
        };
        var log = new List<string>();
        ZooGenerator.Run(options, log.Add);

        string[] models = ["base", .. SkillCatalog.All.Select(s => "expert-" + s.Name), "multitask"];
        foreach (string m in models)
        {
            using var model = CausalLmLoader.Load(Path.Combine(dir["zoo"], m));
            var tokenizer = HfTokenizer.FromFolder(Path.Combine(dir["zoo"], m));
            var scores = model.ScoreContinuations(tokenizer.Encode("Question: What is 12 plus 30?\nAnswer:"), [tokenizer.Encode(" 42", false)]);
            Assert.That(scores[0].LogLikelihood, Is.Negative.And.GreaterThan(-100), m);
        }
        foreach (string skill in options.LoraSkills)
        {
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir["zoo"], "lora-" + skill, "adapter_config.json")))!;
            Assert.That(config["r"]!.GetValue<int>(), Is.EqualTo(8));
            Assert.That(File.Exists(Path.Combine(dir["zoo"], "lora-" + skill, "adapter_model.safetensors")));
        }
        Assert.That(ZooManifest.Verify(dir["zoo"]), Is.Empty);
        foreach (var skill in SkillCatalog.All)
        {
            foreach (string f in new[] { "validation.jsonl", "test.jsonl", $"{skill.Name}_validation.csv", $"{skill.Name}_test.csv", $"{skill.Name}_test.yaml", $"{skill.Name}_validation.yaml" })
                Assert.That(File.Exists(Path.Combine(dir["tasks"], skill.Name, f)), $"{skill.Name}/{f}");
        }
        Assert.That(log, Has.Some.Contains("base: step 2/2"));
    }

    [Test]
    public void TheSameSeedMakesTheSameFiles()
    {
        using var dir = new TempDir();
        var tiny = new TrainingSchedule(Steps: 3, BatchSize: 4, LearningRate: 1e-3);
        ZooOptions Options(string name, int seed) => new()
        {
            ModelsDir = dir[name], TasksDir = dir[name + "-tasks"], Seed = seed,
            Pretraining = tiny, Expert = tiny, MultiTask = tiny, Lora = tiny, ValidationItems = 3, TestItems = 3,
        };
        ZooGenerator.Run(Options("a", 5), _ => { });
        ZooGenerator.Run(Options("b", 5), _ => { });
        ZooGenerator.Run(Options("c", 6), _ => { });
        string Manifest(string name) => File.ReadAllText(Path.Combine(dir[name], ZooManifest.FileName));
        Assert.That(Manifest("b"), Is.EqualTo(Manifest("a")), "same seed, same bytes");
        Assert.That(Manifest("c"), Is.Not.EqualTo(Manifest("a")), "another seed, other weights");
    }

    [Test]
    public void SplitsNeverShareAnItem()
    {
        foreach (var skill in SkillCatalog.All)
        {
            var validation = TaskFiles.Items(skill, ItemSplit.Validation, 300, 7);
            var test = TaskFiles.Items(skill, ItemSplit.Test, 300, 8);
            var train = TaskFiles.Items(skill, ItemSplit.Train, 2000, 9);
            Assert.That(validation.Select(i => i.Prompt).Intersect(test.Select(i => i.Prompt)), Is.Empty, skill.Name);
            Assert.That(train.Select(i => i.Prompt).Intersect(test.Select(i => i.Prompt)), Is.Empty, skill.Name);
            foreach (var item in validation.Concat(test))
            {
                Assert.That(item.Choices, Has.Count.EqualTo(skill.ChoiceCount), skill.Name);
                Assert.That(item.Choices, Is.Unique, skill.Name);
            }
        }
    }

    [Test]
    public void ItemsAreRightByConstruction()
    {
        var rng = new Random(3);
        for (int i = 0; i < 200; i++)
        {
            var add = new ArithmeticSkill().Draw(rng, ItemSplit.Test);
            var nums = System.Text.RegularExpressions.Regex.Matches(add.Prompt, @"\d+").Select(m => int.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.That(int.Parse(add.Choices[add.Answer], System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(nums[0] + nums[1]));

            var cmp = new ComparisonSkill().Draw(rng, ItemSplit.Test);
            int chosen = int.Parse(cmp.Choices[cmp.Answer], System.Globalization.CultureInfo.InvariantCulture);
            int other = int.Parse(cmp.Choices[1 - cmp.Answer], System.Globalization.CultureInfo.InvariantCulture);
            Assert.That(cmp.Prompt.Contains("larger", StringComparison.Ordinal) ? chosen > other : chosen < other, cmp.Prompt);

            var rev = new ReversalSkill().Draw(rng, ItemSplit.Test);
            string letters = rev.Prompt.Split("letters ")[1].Split('.')[0];
            Assert.That(rev.Choices[rev.Answer], Is.EqualTo(string.Join(' ', letters.Split(' ').Reverse())));
        }
    }
}
