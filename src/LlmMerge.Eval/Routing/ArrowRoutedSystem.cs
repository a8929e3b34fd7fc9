using LlmMerge.Core;
using LlmMerge.Core.Models;
using LlmMerge.Core.SafeTensors;
using LlmMerge.Eval.Tasks;
using LlmMerge.Modeling;
using LlmMerge.Modeling.Routing;

namespace LlmMerge.Eval.Routing;

/// <summary>Arrow at evaluation: the base loads once with every adapter beside it, and each token routes inside the forward pass; one model scores every row.</summary>
internal sealed class ArrowRoutedSystem : IRoutedSystem
{
    private readonly RouterManifest _manifest;
    private readonly TorchCausalLanguageModel _model;

    public ArrowRoutedSystem(string dir, RouterManifest manifest, string device, string dtype)
    {
        _manifest = manifest;
        string baseDir = RouterExperts.Locate(dir, manifest.Base);
        var adapters = new List<(string Name, LoraAdapter Adapter)>();
        var model = CausalLmLoader.LoadModel(baseDir, device, dtype);
        try
        {
            foreach (var e in manifest.Experts)
                adapters.Add((e.Name, LoraAdapter.Open(RouterExperts.Locate(dir, e))));
            string weights = Path.Combine(dir, RouterManifest.WeightsFile);
            if (!File.Exists(weights))
                throw new LlmMergeException($"{weights}: missing; an Arrow router keeps its prototypes there, build it again");
            using var prototypes = SafetensorsFile.Open(weights);
            ArrowAdapters.Attach(model.Model, adapters, prototypes, manifest.TopK, manifest.Temperature);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            foreach (var (_, a) in adapters) a.Dispose();
        }
        _model = model;
    }

    public IReadOnlyList<string> Experts => _manifest.Experts.Select(e => e.Name).ToList();

    public IReadOnlyList<int>? Route(EvalTask task, IReadOnlyList<EvalRow> rows) => null;

    public ICausalLanguageModel Model(int expert) => _model;

    public void Dispose() => _model.Dispose();
}
