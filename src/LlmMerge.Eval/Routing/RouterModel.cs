using LlmMerge.Core;
using LlmMerge.Core.Models;
using LlmMerge.Core.Recipes;
using LlmMerge.Modeling.Sources;

namespace LlmMerge.Eval.Routing;

/// <summary>A model a router config names, found and checked: its folder, the folder its config and tokenizer come from (the base, for an adapter), and its fingerprint.</summary>
/// <param name="Name">The expert's name (the base's is "base").</param>
/// <param name="Folder">The model folder, or the LoRA adapter folder.</param>
/// <param name="ConfigFolder">Where config.json and the tokenizer are: the folder itself, or an adapter's base.</param>
/// <param name="Config">Its config.json.</param>
/// <param name="Adapter">The adapter, for a LoRA expert (open while the resolver is).</param>
public sealed record RouterModel(string Name, string Folder, string ConfigFolder, ModelConfig Config, LoraAdapter? Adapter)
{
    public bool IsAdapter => Adapter is not null;

    public string Fingerprint() => IsAdapter ? ModelFingerprint.OfAdapter(ConfigFolder, Folder) : ModelFingerprint.Of(Folder);

    /// <summary>Finds <paramref name="reference"/> (a folder relative to the working directory or the config) through <paramref name="resolver"/>.</summary>
    public static RouterModel Resolve(ModelResolver resolver, string name, string reference, string what)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        if (reference.Contains('+', StringComparison.Ordinal) && !Directory.Exists(reference))
            throw new LlmMergeException($"{what}: '{reference}' is written BASE+ADAPTER; give the adapter folder instead (its adapter_config.json names its base)");
        string folder;
        try
        {
            folder = resolver.ResolvePath(reference);
        }
        catch (LlmMergeException e)
        {
            throw new LlmMergeException($"{what}: {e.Message}", e);
        }
        var source = resolver.Source(new ModelReference(folder));
        var config = source.Config ?? throw new LlmMergeException($"{what}: {source.Directory} has no config.json");
        return new RouterModel(name, Path.GetFullPath(folder), Path.GetFullPath(source.Directory), config, (source as LoraModelSource)?.Adapter);
    }

    /// <summary>router.json's entry: the path relative to the router's final folder, or the Hub repository and commit.</summary>
    public RouterExpertEntry Entry(string routerDir)
    {
        var hub = ModelFingerprint.HubIdentity(Folder);
        string relative = Path.GetRelativePath(Path.GetFullPath(routerDir), Folder).Replace('\\', '/');
        return new RouterExpertEntry(Name, relative, hub?.Repo, hub?.Commit, Fingerprint());
    }
}
