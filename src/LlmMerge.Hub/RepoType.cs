namespace LlmMerge.Hub;

/// <summary>The kind of Hub repository: it picks the API path and the cache folder prefix.</summary>
public enum RepoType
{
    /// <summary>A model repository (<c>models--ORG--NAME</c> in the cache).</summary>
    Model,

    /// <summary>A dataset repository (<c>datasets--ORG--NAME</c> in the cache).</summary>
    Dataset,
}
