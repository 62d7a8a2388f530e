using System.Buffers.Text;
using System.Security.Cryptography;
using Dapper;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Widgets;

/// <summary>
/// Images and videos for widgets (R-MSG-13): at most 1 MB for an image, 12 MB for a video, typed by
/// the file's signature (what the bytes are), never by its name or the Content-Type the client claims.
/// Stored in the database so every node can serve them; served under a random public key.
/// </summary>
public sealed class WidgetAssets(Db db, TimeProvider clock)
{
    public const int MaxImageBytes = 1024 * 1024;
    public const int MaxVideoBytes = 12 * 1024 * 1024;
    public const string PublicPath = "/sdk/v1/assets/";

    public sealed record Asset(string ContentType, byte[] Data);

    private sealed class Row
    {
        public long Id { get; init; }
        public string Key { get; init; } = "";
        public string Kind { get; init; } = "";
        public string ContentType { get; init; } = "";
        public long Size { get; init; }
        public long CreatedAt { get; init; }
    }

    /// <summary>(kind, content type) of a supported file, or null.</summary>
    public static (string Kind, string ContentType)? Sniff(ReadOnlySpan<byte> b)
    {
        if (b.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A])) return ("image", "image/png");
        if (b.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])) return ("image", "image/jpeg");
        if (b.StartsWith("GIF87a"u8) || b.StartsWith("GIF89a"u8)) return ("image", "image/gif");
        if (b.Length >= 12 && b.StartsWith("RIFF"u8) && b[8..12].SequenceEqual("WEBP"u8)) return ("image", "image/webp");
        // ISO base media (MP4): a box whose type is 'ftyp' at offset 4.
        if (b.Length >= 12 && b[4..8].SequenceEqual("ftyp"u8)) return ("video", "video/mp4");
        // WebM is Matroska (EBML header) with DocType "webm" in the first bytes.
        if (b.StartsWith((ReadOnlySpan<byte>)[0x1A, 0x45, 0xDF, 0xA3]) && b[..Math.Min(b.Length, 64)].IndexOf("webm"u8) >= 0) return ("video", "video/webm");
        return null;
    }

    public async Task<WidgetAssetView> UploadAsync(long appId, HttpRequest request, CancellationToken ct)
    {
        byte[] data;
        try
        {
            data = await RequestBody.ReadAsync(request, MaxVideoBytes, ct);
        }
        catch (ProblemException e) when (e.Status == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLargeUpload("body");
        }
        return await SaveAsync(appId, data, request, ct);
    }

    /// <summary>A file over the largest limit (a video's), named by <paramref name="field"/>.</summary>
    public static ProblemException TooLargeUpload(string field) => ProblemException.TooLarge(
        $"The upload is larger than {MaxVideoBytes} bytes (12 MB), the limit for videos; images are limited to {MaxImageBytes} bytes (1 MB).",
        field, MaxVideoBytes);

    /// <summary>Checks and stores an uploaded file (the REST body, or a file the panel's form posted).</summary>
    public async Task<WidgetAssetView> SaveAsync(long appId, byte[] data, HttpRequest request, CancellationToken ct)
    {
        if (data.Length > MaxVideoBytes)
            throw TooLargeUpload("body");
        if (data.Length == 0) throw ProblemException.BadRequest("The upload is empty: send the file as the request body.", "body");
        var (kind, contentType) = Sniff(data) ?? throw new ProblemException(StatusCodes.Status415UnsupportedMediaType, "Unsupported file type",
            "The file is not a PNG, JPEG, GIF or WebP image, nor an MP4 or WebM video (judged by its content, not its name).", "body");
        if (kind == "image" && data.Length > MaxImageBytes)
            throw ProblemException.TooLarge($"The image is {data.Length} bytes; images are limited to {MaxImageBytes} bytes (1 MB).", "body", MaxImageBytes);

        var key = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(18));
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        var id = await conn.ExecuteScalarAsync<long>(
            """
            INSERT INTO widget_assets (app_id, asset_key, kind, content_type, size, data, created_at)
            VALUES (@appId, @key, @kind, @contentType, @size, @data, @now) RETURNING id
            """, new { appId, key, kind, contentType, size = (long)data.Length, data, now });
        return View(request, new Row { Id = id, Key = key, Kind = kind, ContentType = contentType, Size = data.Length, CreatedAt = now });
    }

    public async Task<IReadOnlyList<WidgetAssetView>> ListAsync(long appId, HttpRequest request, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<Row>(
            "SELECT id AS Id, asset_key AS Key, kind AS Kind, content_type AS ContentType, size AS Size, created_at AS CreatedAt FROM widget_assets WHERE app_id = @appId ORDER BY id",
            new { appId });
        return [.. rows.Select(r => View(request, r))];
    }

    public async Task<Asset?> FindAsync(string key, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var row = await conn.QueryFirstOrDefaultAsync<(string ContentType, byte[] Data)?>(
            "SELECT content_type, data FROM widget_assets WHERE asset_key = @key", new { key });
        return row is { } r ? new Asset(r.ContentType, r.Data) : null;
    }

    /// <summary>A widget may only use this app's assets, of the kind its field expects.</summary>
    public async Task RequireAsync(long appId, string key, string kind, string field, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var found = await conn.QueryFirstOrDefaultAsync<string?>(
            "SELECT kind FROM widget_assets WHERE app_id = @appId AND asset_key = @key", new { appId, key });
        if (found is null)
            throw ProblemException.BadRequest($"Asset '{key}' was not uploaded to this app (POST /api/v1/widgets/assets).", field);
        if (found != kind)
            throw ProblemException.BadRequest($"Asset '{key}' is a {found}; {field} needs a {kind}.", field);
    }

    public static string BaseUrl(HttpRequest request) => $"{request.Scheme}://{request.Host}{PublicPath}";

    private static WidgetAssetView View(HttpRequest request, Row r) =>
        new(r.Id, r.Key, r.Kind, r.ContentType, r.Size, BaseUrl(request) + r.Key, r.CreatedAt);
}
