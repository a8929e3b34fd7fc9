using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMerge.Contracts.Results;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LlmMerge.Build;

/// <summary>
/// Packs each model marked Publish="true" for upload: a folder PUBLISH/NAME/ with the model files, a model card
/// (README.md: the model's own card, or a new one, followed by its scores), SHA256SUMS (sha256sum's format,
/// checkable with `sha256sum -c`) and manifest.json; and NAME.zip of that folder.
/// </summary>
public sealed class PackModels : Microsoft.Build.Utilities.Task
{
    public ITaskItem[] Models { get; set; } = [];
    public ITaskItem[] EvaluationPairs { get; set; } = [];
    [Required] public string PublishDir { get; set; } = "";
    public string ReportFile { get; set; } = "";

    [Output] public ITaskItem[] Packages { get; private set; } = [];

    public override bool Execute()
    {
        var packed = new List<ITaskItem>();
        foreach (ITaskItem model in Models.Where(m => string.Equals(m.GetMetadata("Publish"), "true", StringComparison.OrdinalIgnoreCase)))
        {
            string source = model.GetMetadata("Dir");
            if (!Directory.Exists(source))
            {
                Log.LogError(null, ErrorCodes.MissingFolder, null, ReportFile, 0, 0, 0, 0, $"Publish '{model.ItemSpec}': its folder '{source}' does not exist; build the graph first.");
                continue;
            }
            string dest = Path.Combine(PublishDir, model.ItemSpec);
            if (Directory.Exists(dest)) Directory.Delete(dest, recursive: true);
            Directory.CreateDirectory(dest);
            foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
            {
                string rel = Path.GetRelativePath(source, file);
                if (rel.Split(Path.DirectorySeparatorChar).Any(p => p.StartsWith('.'))) continue;
                string target = Path.Combine(dest, rel);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
            File.WriteAllText(Path.Combine(dest, "README.md"), ModelCard(model, Path.Combine(source, "README.md")));

            var files = Directory.EnumerateFiles(dest, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(dest, f).Replace('\\', '/'))
                .Order(StringComparer.Ordinal).ToList();
            var sums = new StringBuilder();
            var manifestFiles = new JsonArray();
            foreach (string rel in files)
            {
                string full = Path.Combine(dest, rel);
                string sha;
                using (var s = File.OpenRead(full)) sha = Convert.ToHexStringLower(SHA256.HashData(s));
                sums.Append(sha).Append("  ").Append(rel).Append('\n');
                manifestFiles.Add(new JsonObject { ["path"] = rel, ["size"] = new FileInfo(full).Length, ["sha256"] = sha });
            }
            File.WriteAllText(Path.Combine(dest, "SHA256SUMS"), sums.ToString());
            var manifest = new JsonObject
            {
                ["name"] = model.ItemSpec,
                ["fingerprint"] = model.GetMetadata("Fingerprint"),
                ["kind"] = model.GetMetadata("Kind"),
                ["method"] = model.GetMetadata("Method"),
                ["files"] = manifestFiles,
            };
            File.WriteAllText(Path.Combine(dest, "manifest.json"), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

            string zip = dest.TrimEnd(Path.DirectorySeparatorChar) + ".zip";
            if (File.Exists(zip)) File.Delete(zip);
            ZipFile.CreateFromDirectory(dest, zip, CompressionLevel.Fastest, includeBaseDirectory: true);
            Log.LogMessage(MessageImportance.High, $"LlmMerge: packed {model.ItemSpec} into {zip} ({files.Count} files, sha256 manifest).");
            var item = new TaskItem(zip);
            item.SetMetadata("Model", model.ItemSpec);
            item.SetMetadata("Folder", dest);
            packed.Add(item);
        }
        Packages = packed.ToArray();
        return !Log.HasLoggedErrors;
    }

    private string ModelCard(ITaskItem model, string existingCard)
    {
        var card = new StringBuilder();
        if (File.Exists(existingCard))
            card.Append(File.ReadAllText(existingCard).TrimEnd()).Append("\n\n");
        else
            card.Append("# ").Append(model.ItemSpec).Append("\n\n")
                .Append(model.GetMetadata("Kind") == "step" ? $"Merged with `{model.GetMetadata("Method")}` from {model.GetMetadata("Inputs").Replace(",", ", ", StringComparison.Ordinal)}.\n\n" : "An expert of this merge graph.\n\n");
        if (model.GetMetadata("Description") is { Length: > 0 } description)
            card.Append(description).Append("\n\n");
        card.Append("## Evaluation\n\n");
        var rows = EvaluationPairs.Where(p => p.GetMetadata("Model") == model.ItemSpec).ToList();
        if (rows.Count == 0)
            card.Append("Not evaluated in this graph.\n");
        else
        {
            card.Append("| task | accuracy |\n| --- | ---: |\n");
            foreach (var p in rows)
            {
                double? acc = ResultsSchema.Read(p.GetMetadata("ResultFile"))?.FirstTask?.Accuracy;
                card.Append("| ").Append(p.GetMetadata("TaskName")).Append(" | ")
                    .Append(acc is null ? "n/a" : acc.Value.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)).Append(" |\n");
            }
        }
        card.Append("\nFingerprint: `").Append(model.GetMetadata("Fingerprint")).Append("`\n");
        return card.ToString();
    }
}
