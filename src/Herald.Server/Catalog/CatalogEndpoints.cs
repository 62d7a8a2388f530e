using Herald.Server.Apps;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Catalog;

public static class CatalogEndpoints
{
    public static IHostApplicationBuilder AddCatalog(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<CatalogService>();
        return builder;
    }

    public static IEndpointRouteBuilder MapCatalog(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/catalog/items").WithTags("Catalog");
        api.MapPut("/", async Task<Ok<CatalogUpsertResult>> (CatalogUpsert body, RestAuth auth, CatalogService catalog, CancellationToken ct) =>
                TypedResults.Ok(await catalog.UpsertAsync(auth.AppId, body, ct)))
            .WithSummary("Create or replace up to 1,000 catalog items by id: {items: [{id, name, price, currency, imageUrl, url, category, inStock, attributes}]} (E-commerce and Media apps; at most 100,000 items).");
        api.MapGet("/", async Task<Ok<CatalogPage>> (RestAuth auth, CatalogService catalog, CancellationToken ct, string? after = null, int limit = 100) =>
            TypedResults.Ok(await catalog.ListAsync(auth.AppId, after, limit, ct))).WithSummary("Catalog items in id order, a page at a time (?after=<last id>&limit=1..1000).");
        api.MapGet("/{id}", async Task<Ok<CatalogItem>> (string id, RestAuth auth, CatalogService catalog, CancellationToken ct) =>
            TypedResults.Ok(await catalog.GetAsync(auth.AppId, id, ct))).WithSummary("One catalog item.");
        api.MapDelete("/{id}", async Task<NoContent> (string id, RestAuth auth, CatalogService catalog, CancellationToken ct) =>
        {
            await catalog.DeleteAsync(auth.AppId, id, ct);
            return TypedResults.NoContent();
        }).WithSummary("Delete a catalog item.");
        return app;
    }
}
