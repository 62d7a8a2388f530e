using System.Text.Json;

namespace Herald.Server.Catalog;

/// <summary>An item of the app's catalog as the back end sends it; <see cref="Attributes"/> holds further scalar values (colour, brand, …).</summary>
public sealed record CatalogItem
{
    public string? Id { get; init; }
    public string? Name { get; init; }
    public double? Price { get; init; }
    /// <summary>ISO 4217 code, e.g. TRY, EUR.</summary>
    public string? Currency { get; init; }
    public string? ImageUrl { get; init; }
    public string? Url { get; init; }
    public string? Category { get; init; }
    public bool? InStock { get; init; }
    public Dictionary<string, JsonElement>? Attributes { get; init; }
    public long UpdatedAt { get; init; }
}

public sealed record CatalogUpsert(IReadOnlyList<CatalogItem>? Items);

public sealed record CatalogUpsertResult(int Upserted, long Total);

public sealed record CatalogPage(IReadOnlyList<CatalogItem> Items, string? Next);
