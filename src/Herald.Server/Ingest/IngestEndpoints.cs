using System.Text.Json;
using Herald.Server.Apps;
using Microsoft.AspNetCore.Http.HttpResults;
using Herald.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace Herald.Server.Ingest;

public sealed record DeviceRegistered(string InstallationId);

/// <summary>What happened to each item of an ingest request. Rejected items are listed with the reason.</summary>
public sealed record IngestResponse(int Accepted, int Duplicates, IReadOnlyList<RejectedItem> Rejected);

public sealed record RejectedItem(int Index, string Field, string Detail, object? Limit);

public static class IngestEndpoints
{
    public static IHostApplicationBuilder AddIngest(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<IngestOptions>().Bind(builder.Configuration.GetSection(IngestOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        // The pump is registered before the writer so that it stops after it: on shutdown the writer
        // drains into the pump, and the pump drains into the observers.
        builder.Services.AddSingleton<ObserverPump>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ObserverPump>());
        builder.Services.AddSingleton<IngestWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<IngestWriter>());
        return builder;
    }

    /// <summary>Read-your-writes for readers of derived data: wait until the post-commit work has seen every accepted event.</summary>
    public static RouteGroupBuilder AfterIngestCaughtUp(this RouteGroupBuilder group) =>
        group.AddEndpointFilter(async (ctx, next) =>
        {
            await ctx.HttpContext.RequestServices.GetRequiredService<ObserverPump>().CaughtUpAsync(ctx.HttpContext.RequestAborted);
            return await next(ctx);
        });

    public static IEndpointRouteBuilder MapIngest(this IEndpointRouteBuilder app)
    {
        var sdk = app.MapGroup("/sdk/v1").WithTags("SDK");
        sdk.MapPost("/devices", RegisterDevice).WithSummary("Register or update a device (installation); returns its installation id.");
        sdk.MapPost("/identify", Identify).WithSummary("Identify the device's user: merges its anonymous history into the user.");
        sdk.MapPost("/events", Events).WithSummary("Send a batch of events (offline batches welcome: original times are kept).");

        var segment = app.MapGroup("/v1").WithTags("Segment-compatible ingest");
        foreach (var type in new[] { "identify", "track", "page", "screen", "group", "alias" })
            segment.MapPost($"/{type}", (HttpContext http, IngestWriter w, IOptions<IngestOptions> o, TimeProvider c) => SegmentSingle(http, type, w, o.Value, c))
                .WithSummary($"Segment HTTP tracking API: {type}.");
        segment.MapPost("/batch", SegmentBatch).WithSummary("Segment HTTP tracking API: batch (at most 500 KB).");
        segment.MapPost("/import", SegmentBatch).ExcludeFromDescription();
        return app;
    }

    private static async Task<Ok<DeviceRegistered>> RegisterDevice(SdkAuth auth, HttpContext http, IngestWriter writer, IOptions<IngestOptions> o, TimeProvider clock)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        using var doc = await ReadJsonAsync(http, o.Value.MaxEventBytes);
        var device = new IngestParser(o.Value, now).HeraldDevice(doc.RootElement);
        var r = await writer.SubmitAsync(auth.AppId, [new DeviceOp(0, device)], now, http.RequestAborted);
        ThrowIfRejected(r[0]);
        return TypedResults.Ok(new DeviceRegistered(r[0].InstallationId!));
    }

    private static async Task<Ok<IngestResponse>> Identify(SdkAuth auth, HttpContext http, IngestWriter writer, IOptions<IngestOptions> o, TimeProvider clock)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        using var doc = await ReadJsonAsync(http, o.Value.MaxEventBytes);
        var op = new IngestParser(o.Value, now).HeraldIdentify(doc.RootElement);
        if (op.Who.InstallationId is null)
            throw ProblemException.BadRequest("installationId is required (from POST /sdk/v1/devices).", "installationId");
        var r = await writer.SubmitAsync(auth.AppId, [op], now, http.RequestAborted);
        ThrowIfRejected(r[0]);
        return TypedResults.Ok(new IngestResponse(1, 0, []));
    }

    private static async Task<IResult> Events(SdkAuth auth, HttpContext http, IngestWriter writer, IOptions<IngestOptions> o, TimeProvider clock)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var body = await ReadUtf8Async(http, o.Value.MaxBatchBytes);
        var parser = new IngestParser(o.Value, now);
        // A batch of valid events takes the one-pass path; anything else is parsed again to name its problems.
        if (!parser.TryHeraldEventsUtf8(body))
        {
            using var doc = ParseJson(body);
            parser.HeraldEvents(doc.RootElement);
        }
        return await CommitAsync(auth.AppId, parser, writer, now, http.RequestAborted);
    }

    private static async Task<IResult> SegmentSingle(HttpContext http, string type, IngestWriter writer, IngestOptions o, TimeProvider clock)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        using var doc = await ReadJsonAsync(http, o.MaxEventBytes);
        var caller = await KeyAuth.RequireAsync(http, KeyKind.Sdk, WriteKey(doc.RootElement));
        var parser = new IngestParser(o, now);
        parser.SegmentCall(doc.RootElement, type, -1, default, null);
        return await CommitAsync(caller.AppId, parser, writer, now, http.RequestAborted, single: true);
    }

    private static async Task<IResult> SegmentBatch(HttpContext http, IngestWriter writer, IOptions<IngestOptions> o, TimeProvider clock)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        using var doc = await ReadJsonAsync(http, o.Value.MaxBatchBytes);
        var root = doc.RootElement;
        var caller = await KeyAuth.RequireAsync(http, KeyKind.Sdk, WriteKey(root));
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("batch", out var batch) || batch.ValueKind != JsonValueKind.Array)
            throw ProblemException.BadRequest("The body must be {\"batch\": [ ... ]}.", "batch");
        var context = root.TryGetProperty("context", out var c) && c.ValueKind == JsonValueKind.Object ? c : default;
        long? sentAt = null;
        if (root.TryGetProperty("sentAt", out var s) && s.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(s.GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var st))
            sentAt = st.ToUnixTimeMilliseconds();
        var parser = new IngestParser(o.Value, now);
        var i = 0;
        foreach (var item in batch.EnumerateArray())
        {
            var type = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            parser.SegmentCall(item, type, i++, context, sentAt);
        }
        return await CommitAsync(caller.AppId, parser, writer, now, http.RequestAborted);
    }

    private static async Task<IResult> CommitAsync(long appId, IngestParser parser, IngestWriter writer, long now, CancellationToken ct, bool single = false)
    {
        var results = await writer.SubmitAsync(appId, parser.Ops, now, ct);
        if (parser.Rejected.Count == 0 && AllNewAndDistinct(results))
            return TypedResults.Ok(new IngestResponse(results.Length, 0, []));
        var rejected = parser.Rejected.Concat(results.Where(r => r.Error is not null))
            .SelectMany(r => new[] { new RejectedItem(r.Index, r.Error!.Field, r.Error.Detail, r.Error.Limit) })
            .OrderBy(r => r.Index).ToList();
        var acceptedIndexes = results.Where(r => r.Error is null).Select(r => r.Index).ToHashSet();
        acceptedIndexes.ExceptWith(rejected.Select(r => r.Index));
        var duplicates = results.Where(r => r.Error is null && r.Duplicate).Select(r => r.Index).Distinct().Count();
        if (acceptedIndexes.Count == 0 && rejected.Count > 0)
        {
            if (single) ThrowIfRejected(new OpResult(rejected[0].Index, new IngestError(rejected[0].Field, rejected[0].Detail, rejected[0].Limit)));
            var p = ProblemException.BadRequest($"None of the {rejected.Count} items was accepted; the first problem: {rejected[0].Detail}", rejected[0].Field, rejected[0].Limit);
            p.Extensions["rejected"] = rejected;
            throw p;
        }
        return TypedResults.Ok(new IngestResponse(acceptedIndexes.Count, duplicates, rejected));
    }

    /// <summary>The common case: every item accepted, none a duplicate, one result per item.</summary>
    private static bool AllNewAndDistinct(OpResult[] results)
    {
        for (var i = 0; i < results.Length; i++)
            if (results[i].Error is not null || results[i].Duplicate || (i > 0 && results[i].Index <= results[i - 1].Index))
                return false;
        return true;
    }

    private static void ThrowIfRejected(OpResult r)
    {
        if (r.Error is { } e)
            throw e.Detail.Contains("is not registered", StringComparison.Ordinal)
                ? new ProblemException(404, "Not found", e.Detail, e.Field)
                : ProblemException.BadRequest(e.Detail, e.Field, e.Limit);
    }

    private static string? WriteKey(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("writeKey", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;

    public static async Task<JsonDocument> ReadJsonAsync(HttpContext http, int maxBytes) =>
        ParseJson(await ReadUtf8Async(http, maxBytes));

    /// <summary>The body's bytes, known to be valid UTF-8.</summary>
    private static async Task<byte[]> ReadUtf8Async(HttpContext http, int maxBytes)
    {
        var bytes = await RequestBody.ReadAsync(http.Request, maxBytes, http.RequestAborted);
        // JSON must be UTF-8 (RFC 8259); checking up front means no string read later can fail.
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw ProblemException.BadRequest("The body is not valid UTF-8; JSON must be sent as UTF-8.", "body");
        return bytes;
    }

    private static JsonDocument ParseJson(byte[] bytes)
    {
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException e)
        {
            throw ProblemException.BadRequest(
                $"The body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message.Split(". ")[0]}.", "body");
        }
    }
}
