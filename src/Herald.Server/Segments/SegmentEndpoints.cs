using Dapper;
using Herald.Server.Analytics;
using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Herald.Server.Ingest;
using Herald.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Segments;

public static class SegmentEndpoints
{
    public static IHostApplicationBuilder AddSegments(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ProfileSnapshots>();
        builder.Services.AddSingleton<SegmentEvaluator>();
        builder.Services.AddSingleton<SegmentService>();
        builder.Services.AddSingleton<SegmentChangeFeed>();
        // After AddAnalytics' observer: real-time segments read the rollups it has just merged.
        builder.Services.AddSingleton<IIngestObserver, RealtimeSegments>();
        builder.Services.AddHostedService<SegmentSweeper>();
        return builder;
    }

    public static IEndpointRouteBuilder MapSegments(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/segments").WithTags("Segments").AfterIngestCaughtUp();
        api.MapPost("/", async Task<Created<SegmentView>> (SegmentRequest request, RestAuth auth, SegmentService segments, CancellationToken ct) =>
        {
            var created = await segments.CreateAsync(auth.AppId, request, ct);
            return TypedResults.Created($"/api/v1/segments/{created.Id}", created);
        }).WithSummary("Create a segment from a rule tree (docs/segments.md); answers it with its size.");
        api.MapPut("/{id:long}", async Task<Ok<SegmentView>> (long id, SegmentRequest request, RestAuth auth, SegmentService segments, CancellationToken ct) =>
            TypedResults.Ok(await segments.UpdateAsync(auth.AppId, id, request, ct))).WithSummary("Replace a segment's name, rules and real-time flag.");
        api.MapGet("/{id:long}", async Task<Ok<SegmentView>> (long id, RestAuth auth, SegmentService segments, CancellationToken ct) =>
            TypedResults.Ok(await segments.GetAsync(auth.AppId, id, ct) ?? throw ProblemException.NotFound($"Segment {id}")))
            .WithSummary("One segment with its current size.");
        api.MapGet("/", async Task<Ok<IReadOnlyList<SegmentView>>> (RestAuth auth, SegmentService segments, CancellationToken ct) =>
            TypedResults.Ok(await segments.ListAsync(auth.AppId, ct))).WithSummary("All segments with size and active / inactive.");
        api.MapPost("/validate", async Task<Ok<ValidationResult>> (RulesRequest request, RestAuth auth, SegmentService segments, CancellationToken ct) =>
        {
            var (_, errors) = await segments.ValidateAsync(auth.AppId, request.Rules, null, ct);
            return TypedResults.Ok(new ValidationResult(errors.Count == 0, errors));
        }).WithSummary("Check a rule tree; every error names its path, e.g. rules.and[1].event.");
        api.MapPost("/preview", async Task<Ok<PreviewResult>> (RulesRequest request, RestAuth auth, SegmentService segments, CancellationToken ct) =>
            TypedResults.Ok(new PreviewResult(await segments.PreviewAsync(auth.AppId, request.Rules, ct))))
            .WithSummary("Size of a rule tree while editing, without saving it.");
        api.MapGet("/{id:long}/members", async Task<Ok<MembersPage>> (long id, RestAuth auth, SegmentService segments, CancellationToken ct, uint? after = null, int limit = 100) =>
            TypedResults.Ok(await segments.PageAsync(auth.AppId, id, after, limit, ct)))
            .WithSummary("Members (devices) in ordinal order; pass the answer's next as after for the next page.");
        api.MapGet("/{id:long}/export", async (long id, RestAuth auth, SegmentService segments, MemberDirectory directory, HttpContext http, string? attributes = null) =>
        {
            var names = AnalyticsEndpoints.ParseAttributes(attributes);
            var members = await segments.MembersAsync(auth.AppId, id, http.RequestAborted);
            http.Response.ContentType = "text/csv; charset=utf-8";
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"segment-{id}.csv\"";
            await directory.WriteDevicesCsvAsync(auth.AppId, members, names, http.Response.Body, http.RequestAborted);
        }).WithSummary("CSV (UTF-8) of the members with chosen profile attributes: ?attributes=first_name,email.");
        api.MapGet("/{id:long}/changes", async Task<Ok<IReadOnlyList<SegmentChange>>> (long id, RestAuth auth, Db db, SegmentService segments, CancellationToken ct, long after = 0, int limit = 1000) =>
        {
            _ = await segments.GetRowExistsAsync(auth.AppId, id, ct);
            await using var conn = await db.OpenAsync(ct);
            var rows = await conn.QueryAsync<ChangeRow>(
                "SELECT id, device_ordinal AS DeviceOrdinal, entered, at FROM segment_changes WHERE app_id = @app AND segment_id = @id AND id > @after ORDER BY id LIMIT @limit",
                new { app = auth.AppId, id, after, limit = Math.Clamp(limit, 1, 10_000) });
            return TypedResults.Ok<IReadOnlyList<SegmentChange>>(rows.Select(r => new SegmentChange(r.Id, auth.AppId, id, (uint)r.DeviceOrdinal, r.Entered, r.At)).ToList());
        }).WithSummary("Entered / left changes of a real-time segment after a change id, oldest first (durable consumption).");
        return app;
    }

    private sealed class ChangeRow
    {
        public long Id { get; set; }
        public long DeviceOrdinal { get; set; }
        public bool Entered { get; set; }
        public long At { get; set; }
    }
}
