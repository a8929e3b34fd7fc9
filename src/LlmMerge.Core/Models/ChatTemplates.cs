using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmMerge.Core.Models;

/// <summary>
/// The recipe's <c>chat_template</c> as mergekit reads it: <c>auto</c> (the template most of the input models
/// carry), the name of a built-in template, or a Jinja template given inline; written into the output's
/// tokenizer_config.json.
/// </summary>
public static class ChatTemplates
{
    /// <summary>
    /// Built-in templates, written for llmmerge to render what mergekit's files of the same name render (mistral
    /// is ours; mergekit ships alpaca, chatml, exaone and llama3). Whitespace is explicit so the result does not
    /// depend on trim_blocks. mergekit's llama3 ends every message with a newline after &lt;|eot_id|&gt; and its
    /// alpaca puts no separator before the generation prompt; both are kept, since they are what mergekit outputs.
    /// mergekit's exaone file is indented, and Jinja keeps indentation before expressions, so its output carries
    /// stray spaces; ours renders the EXAONE turns without them.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> BuiltIn = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["chatml"] = """
            {%- for message in messages -%}
            {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
            {%- endfor -%}
            {%- if add_generation_prompt -%}
            {{- '<|im_start|>assistant\n' -}}
            {%- endif -%}
            """,
        ["llama3"] = """
            {%- for message in messages -%}
            {%- if loop.first -%}{{- bos_token -}}{%- endif -%}
            {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>\n' -}}
            {%- endfor -%}
            {%- if add_generation_prompt -%}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {%- endif -%}
            """,
        ["alpaca"] = """
            {%- set system = messages | selectattr('role', 'equalto', 'system') | list -%}
            {{- ((system | last).content | trim if system else '') + '\n\n' -}}
            {%- set headers = {'user': '### Instruction:\n', 'assistant': '### Response:\n', 'user_context': '### Input:\n'} -%}
            {%- for message in messages -%}
            {%- if message['role'] in headers -%}
            {{- headers[message['role']] + message['content'] | trim -}}
            {%- if not loop.last -%}{{- '\n\n' -}}{%- endif -%}
            {%- endif -%}
            {%- endfor -%}
            {%- if add_generation_prompt and messages[-1]['role'] != 'assistant' -%}
            {{- '### Response:\n' -}}
            {%- endif -%}
            """,
        ["exaone"] = """
            {%- for message in messages -%}
            {%- if loop.first and message['role'] != 'system' -%}{{- '[|system|][|endofturn|]\n' -}}{%- endif -%}
            {{- '[|' + message['role'] + '|]' + message['content'] + ('\n' if message['role'] == 'user' else '[|endofturn|]\n') -}}
            {%- endfor -%}
            {%- if add_generation_prompt -%}
            {{- '[|assistant|]' -}}
            {%- endif -%}
            """,
        ["mistral"] = """
            {{- bos_token -}}
            {%- for message in messages -%}
            {%- if message['role'] == 'user' -%}
            {{- '[INST] ' + message['content'] + ' [/INST]' -}}
            {%- elif message['role'] == 'assistant' -%}
            {{- message['content'] + eos_token -}}
            {%- elif message['role'] == 'system' -%}
            {{- message['content'] + '\n\n' -}}
            {%- endif -%}
            {%- endfor -%}
            """,
    };

    /// <summary>
    /// The template a recipe's <c>chat_template</c> stands for, by mergekit's rules: <c>auto</c> takes the most
    /// common template among <paramref name="modelDirs"/> (in recipe order; the first wins a tie) and null when
    /// none has one; a short string without newlines or braces is a built-in name; anything else must look like
    /// Jinja (at least 20 characters, with a brace).
    /// </summary>
    public static string? Resolve(string spec, IEnumerable<string> modelDirs)
    {
        if (spec == "auto")
        {
            var found = modelDirs.Select(Read).OfType<string>().Select(t => t.Trim()).Where(t => t.Length > 0).ToList();
            return found.Count == 0 ? null
                : found.GroupBy(t => t, StringComparer.Ordinal).OrderByDescending(g => g.Count()).ThenBy(g => found.IndexOf(g.Key)).First().Key;
        }
        if (spec.Length < 256 && !spec.Contains('\n') && !spec.Contains('{') && BuiltIn.TryGetValue(spec, out var builtIn))
            return builtIn;
        if (spec.Length < 20 || !spec.Contains('{'))
            throw new LlmMergeException(
                $"chat_template: '{spec}' is not a template: use auto, a built-in name ({string.Join(", ", BuiltIn.Keys.Order(StringComparer.Ordinal))}) or a Jinja template");
        return spec;
    }

    /// <summary>
    /// A model folder's chat template as transformers loads it: chat_template.jinja, else chat_template.json, else
    /// tokenizer_config.json's <c>chat_template</c> (a list of named templates gives its "default"); null when none.
    /// </summary>
    public static string? Read(string dir)
    {
        string jinja = Path.Combine(dir, "chat_template.jinja");
        if (File.Exists(jinja))
            return File.ReadAllText(jinja);
        foreach (var file in new[] { "chat_template.json", "tokenizer_config.json" })
        {
            string path = Path.Combine(dir, file);
            if (!File.Exists(path))
                continue;
            var node = ParseObject(path)["chat_template"];
            switch (node)
            {
                case JsonValue v when v.TryGetValue(out string? s):
                    return s;
                case JsonArray named:
                    foreach (var entry in named.OfType<JsonObject>())
                    {
                        if (entry["name"]?.GetValue<string>() == "default")
                            return entry["template"]?.GetValue<string>();
                    }
                    return null;
            }
        }
        return null;
    }

    /// <summary>
    /// Sets <c>chat_template</c> in <paramref name="dir"/>'s tokenizer_config.json and removes chat_template.jinja
    /// and chat_template.json, which transformers would prefer; false when the folder has no tokenizer_config.json.
    /// </summary>
    public static bool Write(string dir, string template)
    {
        string path = Path.Combine(dir, "tokenizer_config.json");
        if (!File.Exists(path))
            return false;
        var config = ParseObject(path);
        config["chat_template"] = template;
        File.WriteAllText(path, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        File.Delete(Path.Combine(dir, "chat_template.jinja"));
        File.Delete(Path.Combine(dir, "chat_template.json"));
        return true;
    }

    private static JsonObject ParseObject(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new LlmMergeException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new LlmMergeException($"{path}: not valid JSON ({e.Message})", e);
        }
    }
}
