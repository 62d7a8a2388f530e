using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Dapper;
using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Catalog;

/// <summary>
/// The app's catalog (R-MSG-3, R-APP-2): products or content items that messages name — "{{item.name}}
/// is back in stock at {{item.price}} {{item.currency}}". E-commerce and Media apps have one; items are
/// upserted in bulk and read by id, and a campaign names the item each recipient's message is about
/// (<c>content.catalogItem</c>, e.g. <c>{{event.sku}}</c>).
/// </summary>
public sealed class CatalogService(Db db, AppService apps, TimeProvider clock)
{
    public const int MaxItemsPerCall = 1_000, MaxItemsPerApp = 100_000, MaxId = 128, MaxName = 500, MaxText = 2_048, MaxAttributes = 25;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<long, (long LoadedAt, IReadOnlyDictionary<string, IReadOnlyDictionary<string, object?>> Items)> _cache = new();

    private sealed class Row
    {
        public string ItemId { get; init; } = "";
        public string Name { get; init; } = "";
        public double? Price { get; init; }
        public string? Currency { get; init; }
        public string? ImageUrl { get; init; }
        public string? Url { get; init; }
        public string? Category { get; init; }
        public bool? InStock { get; init; }
        public string Attributes { get; init; } = "{}";
        public long UpdatedAt { get; init; }
    }

    private const string Columns = "item_id AS ItemId, name AS Name, price AS Price, currency AS Currency, image_url AS ImageUrl, url AS Url, category AS Category, in_stock AS InStock, attributes AS Attributes, updated_at AS UpdatedAt";

    /// <summary>Catalog scenarios belong to E-commerce and Media apps (R-APP-2); others are told how to unlock them.</summary>
    public async Task RequireCatalogAppAsync(long appId, string field, CancellationToken ct)
    {
        var app = await apps.GetAsync(appId, ct) ?? throw ProblemException.NotFound($"App {appId}");
        if (app.Category is not ("ecommerce" or "media"))
            throw new ProblemException(StatusCodes.Status409Conflict, "Catalog not available",
                $"The catalog is for E-commerce and Media apps; this app's category is '{app.Category}'. Change it with PATCH /api/v1/app {{\"category\": \"ecommerce\"}}.", field);
    }

    public async Task<CatalogUpsertResult> UpsertAsync(long appId, CatalogUpsert body, CancellationToken ct)
    {
        await RequireCatalogAppAsync(appId, "items", ct);
        return await WriteAsync(appId, body, ct);
    }

    private async Task<CatalogUpsertResult> WriteAsync(long appId, CatalogUpsert body, CancellationToken ct)
    {
        var items = body.Items ?? throw ProblemException.BadRequest("items is required: an array of catalog items.", "items");
        if (items.Count is 0 or > MaxItemsPerCall)
            throw ProblemException.BadRequest($"items has {items.Count} entries; 1 to {MaxItemsPerCall} per call.", "items", MaxItemsPerCall);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var rows = items.Select((item, i) => Check(item, i, seen, now)).ToList();
        await using (var conn = await db.OpenAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            var ids = rows.Select(r => r.id).ToArray();
            var known = await conn.ExecuteScalarAsync<long>($"SELECT count(*) FROM catalog_items WHERE app_id = @appId AND {db.In("item_id", "ids")}", new { appId, ids }, tx);
            var total = await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM catalog_items WHERE app_id = @appId", new { appId }, tx);
            if (total + rows.Count - known > MaxItemsPerApp)
                throw ProblemException.Unprocessable($"The catalog would have {total + rows.Count - known} items; at most {MaxItemsPerApp} per app.", "items", MaxItemsPerApp);
            await conn.ExecuteAsync(
                """
                INSERT INTO catalog_items (app_id, item_id, name, price, currency, image_url, url, category, in_stock, attributes, updated_at)
                VALUES (@appId, @id, @name, @price, @currency, @imageUrl, @url, @category, @inStock, @attributes, @now)
                ON CONFLICT (app_id, item_id) DO UPDATE SET name = excluded.name, price = excluded.price, currency = excluded.currency,
                    image_url = excluded.image_url, url = excluded.url, category = excluded.category, in_stock = excluded.in_stock,
                    attributes = excluded.attributes, updated_at = excluded.updated_at
                """, rows.Select(r => new { appId, r.id, r.name, r.price, r.currency, r.imageUrl, r.url, r.category, r.inStock, r.attributes, now }), tx);
            await tx.CommitAsync(ct);
            _cache.TryRemove(appId, out _);
            return new CatalogUpsertResult(rows.Count, total + rows.Count - known);
        }
    }

    private static (string id, string name, double? price, string? currency, string? imageUrl, string? url, string? category, bool? inStock, string attributes)
        Check(CatalogItem? item, int i, HashSet<string> seen, long now)
    {
        var at = $"items[{i}]";
        if (item is null) throw ProblemException.BadRequest($"{at} must be an object.", at);
        var id = item.Id?.Trim();
        if (string.IsNullOrEmpty(id)) throw ProblemException.BadRequest($"{at}.id is required.", $"{at}.id");
        if (id.Length > MaxId) throw ProblemException.BadRequest($"{at}.id is {id.Length} characters; at most {MaxId}.", $"{at}.id", MaxId);
        if (!seen.Add(id)) throw ProblemException.BadRequest($"{at}.id '{id}' appears twice in this call.", $"{at}.id");
        var name = item.Name?.Trim();
        if (string.IsNullOrEmpty(name)) throw ProblemException.BadRequest($"{at}.name is required.", $"{at}.name");
        if (name.Length > MaxName) throw ProblemException.BadRequest($"{at}.name is {name.Length} characters; at most {MaxName}.", $"{at}.name", MaxName);
        if (item.Price is { } p && (!double.IsFinite(p) || p < 0 || p > 1e12))
            throw ProblemException.BadRequest($"{at}.price must be a number from 0 to 1000000000000.", $"{at}.price", 1e12);
        var currency = item.Currency?.Trim().ToUpperInvariant();
        if (currency is not null && (currency.Length != 3 || !currency.All(char.IsAsciiLetterUpper)))
            throw ProblemException.BadRequest($"{at}.currency must be a 3-letter ISO 4217 code such as TRY or EUR; got '{item.Currency}'.", $"{at}.currency");
        string? Link(string? v, string field)
        {
            if (v is null) return null;
            if (v.Length > MaxText) throw ProblemException.BadRequest($"{at}.{field} is {v.Length} characters; at most {MaxText}.", $"{at}.{field}", MaxText);
            return Uri.TryCreate(v, UriKind.Absolute, out var u) && u.Scheme is "https" or "http" ? v
                : throw ProblemException.BadRequest($"{at}.{field} must be an absolute http(s) URL.", $"{at}.{field}");
        }
        var category = item.Category?.Trim();
        if (category is { Length: > MaxName }) throw ProblemException.BadRequest($"{at}.category is {category.Length} characters; at most {MaxName}.", $"{at}.category", MaxName);
        var attributes = item.Attributes ?? [];
        if (attributes.Count > MaxAttributes)
            throw ProblemException.BadRequest($"{at}.attributes has {attributes.Count} entries; at most {MaxAttributes}.", $"{at}.attributes", MaxAttributes);
        foreach (var (k, v) in attributes)
        {
            if (k.Length is 0 or > 64) throw ProblemException.BadRequest($"{at}.attributes: a name must be 1 to 64 characters.", $"{at}.attributes", 64);
            if (v.ValueKind is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
                throw ProblemException.BadRequest($"{at}.attributes.{k} must be a string, number or boolean.", $"{at}.attributes.{k}");
            if (v.ValueKind == JsonValueKind.String && v.GetString()!.Length > MaxText)
                throw ProblemException.BadRequest($"{at}.attributes.{k} is longer than {MaxText} characters.", $"{at}.attributes.{k}", MaxText);
        }
        return (id, name, item.Price, currency, Link(item.ImageUrl, "imageUrl"), Link(item.Url, "url"), category, item.InStock, JsonSerializer.Serialize(attributes, Json));
    }

    /// <summary>
    /// Items from a UTF-8 CSV (the panel's upload): a header row with <c>id</c> and <c>name</c>, and
    /// optionally price, currency, imageUrl, url, category, inStock; other columns become attributes.
    /// Written a thousand at a time; a bad row is refused naming its line, and the rows before it stay.
    /// </summary>
    public async Task<int> ImportCsvAsync(long appId, byte[] bytes, CancellationToken ct)
    {
        await RequireCatalogAppAsync(appId, "file", ct);
        var rows = Identity.Csv.Read(Identity.CsvUserImport.DecodeStrict(bytes)).ToList();
        if (rows.Count == 0) throw ProblemException.BadRequest("The file is empty; the first line names the columns (id, name, price, …).", "file");
        var header = rows[0].Fields.Select(f => f.Trim()).ToList();
        int Col(string name) => header.FindIndex(h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
        if (Col("id") < 0 || Col("name") < 0) throw ProblemException.BadRequest("The first line must name the columns, with at least id and name.", "line 1");
        var known = new[] { "id", "name", "price", "currency", "imageUrl", "url", "category", "inStock" };
        var extra = header.Select((h, i) => (h, i)).Where(x => x.h.Length > 0 && !known.Contains(x.h, StringComparer.OrdinalIgnoreCase)).ToList();
        var items = new List<(int Line, CatalogItem Item)>();
        foreach (var r in rows.Skip(1))
        {
            string? F(string name) => Col(name) is var i and >= 0 && i < r.Fields.Count && r.Fields[i].Trim().Length > 0 ? r.Fields[i].Trim() : null;
            double? price = null;
            if (F("price") is { } p)
                price = double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                    : throw ProblemException.BadRequest($"line {r.Line}: price '{p}' is not a number.", $"line {r.Line}");
            bool? inStock = F("inStock") is { } b ? b.ToLowerInvariant() switch
            {
                "true" or "yes" or "1" => true,
                "false" or "no" or "0" => false,
                _ => throw ProblemException.BadRequest($"line {r.Line}: inStock '{b}' is not true or false.", $"line {r.Line}"),
            } : null;
            var attributes = extra.Where(x => x.i < r.Fields.Count && r.Fields[x.i].Length > 0)
                .ToDictionary(x => x.h, x => JsonSerializer.SerializeToElement(r.Fields[x.i]));
            items.Add((r.Line, new CatalogItem
            {
                Id = F("id"), Name = F("name"), Price = price, Currency = F("currency"), ImageUrl = F("imageUrl"), Url = F("url"),
                Category = F("category"), InStock = inStock, Attributes = attributes.Count > 0 ? attributes : null,
            }));
        }
        var written = 0;
        foreach (var chunk in items.Chunk(MaxItemsPerCall))
        {
            try { await WriteAsync(appId, new CatalogUpsert([.. chunk.Select(c => c.Item)]), ct); }
            catch (ProblemException e) when (e.Status == StatusCodes.Status400BadRequest && e.Field?.StartsWith("items[", StringComparison.Ordinal) == true)
            {
                var at = int.Parse(e.Field[6..e.Field.IndexOf(']', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
                var line = chunk[at].Line;
                throw ProblemException.BadRequest($"line {line}: {e.Message.Replace($"items[{at}].", "", StringComparison.Ordinal)} ({written} items before it were saved)", $"line {line}");
            }
            written += chunk.Length;
        }
        return written;
    }

    public async Task<CatalogItem> GetAsync(long appId, string id, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var row = await conn.QueryFirstOrDefaultAsync<Row>($"SELECT {Columns} FROM catalog_items WHERE app_id = @appId AND item_id = @id", new { appId, id });
        return row is null ? throw ProblemException.NotFound($"Catalog item '{(id.Length > MaxId ? id[..MaxId] + "…" : id)}'") : View(row);
    }

    /// <summary>Items in id order, a page at a time: <paramref name="after"/> is the last id of the previous page.</summary>
    public async Task<CatalogPage> ListAsync(long appId, string? after, int limit, CancellationToken ct)
    {
        if (limit is < 1 or > 1000) throw ProblemException.BadRequest($"limit must be 1 to 1000; got {limit}.", "limit", 1000);
        await using var conn = await db.OpenAsync(ct);
        var rows = (await conn.QueryAsync<Row>(
            $"SELECT {Columns} FROM catalog_items WHERE app_id = @appId AND (@after IS NULL OR item_id > @after) ORDER BY item_id LIMIT @take",
            new { appId, after, take = limit + 1 })).ToList();
        var more = rows.Count > limit;
        var page = rows.Take(limit).Select(View).ToList();
        return new CatalogPage(page, more ? page[^1].Id : null);
    }

    public async Task DeleteAsync(long appId, string id, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        if (await conn.ExecuteAsync("DELETE FROM catalog_items WHERE app_id = @appId AND item_id = @id", new { appId, id }) == 0)
            throw ProblemException.NotFound($"Catalog item '{(id.Length > MaxId ? id[..MaxId] + "…" : id)}'");
        _cache.TryRemove(appId, out _);
    }

    /// <summary>
    /// The whole catalog as template values (<c>item.*</c>), kept in memory for a short while: the
    /// dispatcher looks items up per message without a query. A change on this node applies at once,
    /// on other nodes within 30 s.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, object?>>> SnapshotAsync(long appId, CancellationToken ct)
    {
        var now = clock.GetTimestamp();
        if (_cache.TryGetValue(appId, out var hit) && clock.GetElapsedTime(hit.LoadedAt, now) < CacheFor) return hit.Items;
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<Row>($"SELECT {Columns} FROM catalog_items WHERE app_id = @appId", new { appId });
        var items = rows.ToDictionary(r => r.ItemId, r => Values(View(r)), StringComparer.Ordinal);
        _cache[appId] = (now, items);
        return items;
    }

    /// <summary>An item as a template sees it: its fields (price with two decimals when it has cents) and its attributes beside them.</summary>
    public static IReadOnlyDictionary<string, object?> Values(CatalogItem item)
    {
        var v = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, a) in item.Attributes ?? [])
            v[k] = a.ValueKind switch
            {
                JsonValueKind.String => a.GetString(),
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => a.GetRawText(),
            };
        v["id"] = item.Id;
        v["name"] = item.Name;
        v["price"] = item.Price is { } p ? (p == Math.Floor(p) ? p.ToString("0", CultureInfo.InvariantCulture) : p.ToString("0.00", CultureInfo.InvariantCulture)) : null;
        v["currency"] = item.Currency;
        v["imageUrl"] = item.ImageUrl;
        v["url"] = item.Url;
        v["category"] = item.Category;
        v["inStock"] = item.InStock;
        return v;
    }

    private static CatalogItem View(Row r) => new()
    {
        Id = r.ItemId, Name = r.Name, Price = r.Price, Currency = r.Currency, ImageUrl = r.ImageUrl, Url = r.Url, Category = r.Category, InStock = r.InStock,
        Attributes = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(r.Attributes, Json), UpdatedAt = r.UpdatedAt,
    };
}
