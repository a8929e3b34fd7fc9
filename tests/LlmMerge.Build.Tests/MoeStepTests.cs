using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmMerge.Build.Tests.Support;

namespace LlmMerge.Build.Tests;

/// <summary>The MoeStep kind: a mixture built by `llmmerge moe` inside a graph, from a Config= recipe naming experts and steps or from metadata.</summary>
public sealed class MoeStepTests
{
    [Test]
    public void AMixtureOfExpertsAndAMergeStepIsBuiltEvaluatedAndLeftAloneWhenNothingChanges()
    {
        using var folder = new GraphFolder();
        folder.Write("tasks/choice.csv", "id,input,target,answer_choices,eval_type\n0,What is 2 plus 2?,1,\"['3', '4']\",multiple_choice\n");
        folder.Write("tasks/prompts.csv", "id,input,target,answer_choices,eval_type\n0,Which is larger: 5 or 9?,1,\"['5', '9']\",multiple_choice\n1,Which is smaller: 3 or 8?,0,\"['3', '8']\",multiple_choice\n");
        folder.Write("prompts/a.txt", "Question: What is 27 plus 14?\nAnswer:\n\nQuestion: What is 36 plus 41?\nAnswer:\n");
        // The recipe names graph models: an expert, and a merge step of this graph.
        folder.Write("recipes/moe.yml", """
            base_model: base
            gate_mode: hidden
            experts_per_token: 1
            experts:
              - source_model: expert-a
                positive_prompts: ["Question: What is 27 plus 14?\nAnswer:"]
              - source_model: average
                positive_prompts: ["Question: Which number is larger, 50 or 93?\nAnswer:"]
            """);
        string project = folder.Project("moe", """
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="expert-a" Path="models/expert-a" />
                <Expert Include="expert-b" Path="models/expert-b" />
                <MergeStep Include="average" Method="linear" Models="expert-a;expert-b" Weight="1" />
                <MoeStep Include="mixture" Config="recipes/moe.yml" />
                <MoeStep Include="inline" BaseModel="base" Experts="expert-a;expert-b" GateMode="hidden_avg" ExpertsPerToken="2"
                         Prompts="expert-a=prompts/a.txt;expert-b=prompts/a.txt" NegativePrompts="expert-b=prompts/a.txt"
                         PromptTasks="expert-b=tasks/prompts.csv" PromptLimit="1" />
                <Evaluation Include="held-out" Models="mixture;inline;average" Tasks="tasks/choice.csv" />
              </ItemGroup>
            """);
        BuildResult first = folder.Build(project);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        var config = JsonNode.Parse(File.ReadAllText(folder.Artifacts(project, "mixture", "config.json")))!;
        Assert.That(config["architectures"]![0]!.GetValue<string>(), Is.EqualTo("MixtralForCausalLM"));
        Assert.That(config["num_experts_per_tok"]!.GetValue<int>(), Is.EqualTo(1));
        // The normalised recipe names folders, the step's input among them.
        string recipe = File.ReadAllText(Path.Combine(folder.Dir, "obj", "llmmerge", "steps", "mixture.yml"));
        Assert.That(recipe, Does.Contain(folder.Artifacts(project, "average")));
        string inline = File.ReadAllText(Path.Combine(folder.Dir, "obj", "llmmerge", "steps", "inline.yml"));
        Assert.That(inline, Does.Contain("gate_mode: hidden_avg").And.Contain("negative_prompts").And.Contain("What is 36 plus 41?"));
        Assert.That(inline, Does.Contain("prompt_tasks").And.Contain("limit: 1"));
        // The mixture's saved recipe is plain mergekit-moe: the task's first row became expert-b's last positive prompt.
        string saved = File.ReadAllText(folder.Artifacts(project, "inline", "mergekit_moe_config.yml"));
        Assert.That(saved, Does.Contain("Which is larger: 5 or 9?").And.Not.Contain("Which is smaller").And.Not.Contain("prompt_tasks"));
        string report = File.ReadAllText(folder.Artifacts(project, "report.md"));
        Assert.That(report, Does.Contain("mixture").And.Contain("inline"));
        Assert.That(first.Log, Does.Contain("3 evaluation(s) run"));

        BuildResult again = folder.Build(project);
        Assert.That(again.ExitCode, Is.Zero, again.ToString());
        Assert.That(again.Log, Does.Contain("LlmMerge: nothing to do"), again.ToString());

        // Editing a prompt file changes the inline step's recipe: it and its evaluation rerun, nothing else.
        folder.Write("tasks/prompts.csv", "id,input,target,answer_choices,eval_type\n0,Which is larger: 5 or 9?,1,\"['5', '9']\",multiple_choice\n1,Which is smaller: 3 or 8?,0,\"['3', '8']\",multiple_choice\n");
        folder.Write("prompts/a.txt", "Question: What is 11 plus 12?\nAnswer:\n");
        BuildResult edited = folder.Build(project);
        Assert.That(edited.ExitCode, Is.Zero, edited.ToString());
        Assert.That(edited.Log, Does.Contain("MoeStep 'inline': fingerprint").And.Contain("(changed)"));
        Assert.That(edited.Log, Does.Contain("1 evaluation(s) run, 2 cached"), edited.ToString());
    }

    [Test]
    public void BadMoeStepsAreErrorsAtTheirLines()
    {
        using var folder = new GraphFolder();
        folder.Write("recipes/typo.yml", "base_model: base\ngate_mode: hiden\nexperts:\n  - source_model: expert-a\n");
        string project = folder.Project("badmoe", """
              <ItemGroup>
                <Expert Include="base" Path="models/base" />
                <Expert Include="expert-a" Path="models/expert-a" />
                <MoeStep Include="mode" Config="recipes/typo.yml" />
                <MoeStep Include="nobase" Experts="expert-a" />
                <MoeStep Include="who" BaseModel="base" Experts="expert-a;zzz" GateMode="random" />
                <MoeStep Include="arch" BaseModel="base" Experts="expert-a" Architecture="grok" />
                <MoeStep Include="tasks" BaseModel="base" Experts="expert-a" GateMode="random" PromptTasks="expert-a=tasks/missing.csv" />
                <MoeStep Include="limit" BaseModel="base" Experts="expert-a" GateMode="random" PromptLimit="0" />
              </ItemGroup>
            """);
        BuildResult result = folder.Build(project, "-t:ValidateGraph");
        Assert.That(result.ExitCode, Is.Not.Zero);
        string errors = string.Join("\n", result.Errors);
        Assert.That(Regex.IsMatch(errors, @"badmoe\.proj\(5,\d+\): error LLM0105: MoeStep 'mode': unknown gate_mode 'hiden'"), Is.True, errors);
        Assert.That(errors, Does.Contain("error LLM0106: MoeStep 'nobase': give BaseModel"));
        Assert.That(errors, Does.Contain("MoeStep 'who': model 'zzz' is neither an Expert nor a MergeStep"));
        Assert.That(errors, Does.Contain("MoeStep 'arch': unknown architecture 'grok'"));
        Assert.That(errors, Does.Contain("MoeStep 'tasks': PromptTasks names task file").And.Contain("missing.csv"));
        Assert.That(errors, Does.Contain("MoeStep 'limit': PromptLimit must be a whole number of at least 1"));
    }
}
