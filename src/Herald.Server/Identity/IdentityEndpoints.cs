using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Herald.Server.Ingest;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Herald.Server.Identity;

public static class IdentityEndpoints
{
    public static IHostApplicationBuilder AddIdentity(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IdentityStore>();
        return builder;
    }

    public static IEndpointRouteBuilder MapIdentity(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Users and devices");
        api.MapGet("/devices/{installationId}", async Task<Ok<DeviceView>> (string installationId, RestAuth auth, IdentityStore store, CancellationToken ct) =>
            TypedResults.Ok(await store.GetDeviceAsync(auth.AppId, installationId, ct) ?? throw ProblemException.NotFound($"Device '{installationId}'")))
            .WithSummary("Look up one device by installation id.");
        api.MapGet("/devices/{installationId}/events", async Task<Ok<IReadOnlyList<EventView>>> (string installationId, RestAuth auth, IdentityStore store, CancellationToken ct, int limit = 100) =>
            TypedResults.Ok(await store.RecentEventsAsync(auth.AppId, null, installationId, Limit(limit), ct)))
            .WithSummary("A device's most recent events (newest first). Bulk extraction is by export.");
        api.MapGet("/users/{externalId}", async Task<Ok<UserView>> (string externalId, RestAuth auth, IdentityStore store, CancellationToken ct) =>
            TypedResults.Ok(await store.GetUserAsync(auth.AppId, externalId, ct) ?? throw ProblemException.NotFound($"User '{externalId}'")))
            .WithSummary("Look up one user with their devices.");
        api.MapGet("/users/{externalId}/events", async Task<Ok<IReadOnlyList<EventView>>> (string externalId, RestAuth auth, IdentityStore store, CancellationToken ct, int limit = 100) =>
            TypedResults.Ok(await store.RecentEventsAsync(auth.AppId, externalId, null, Limit(limit), ct)))
            .WithSummary("A user's most recent events (newest first).");
        api.MapPut("/users/{externalId}", UpdateUser).WithSummary("Create or update a user's profile: email, phone, opt-ins, typed attributes.");
        api.MapDelete("/users/{externalId}", async Task<NoContent> (string externalId, RestAuth auth, IdentityStore store, TimeProvider clock, CancellationToken ct) =>
        {
            if (!await store.DeleteUserAsync(auth.AppId, externalId, clock.GetUtcNow().ToUnixTimeMilliseconds(), ct))
                throw ProblemException.NotFound($"User '{externalId}'");
            return TypedResults.NoContent();
        }).WithSummary("Delete a user: profile, devices and events are removed (R-ID-5).");
        api.MapPost("/users/import", ImportCsv).WithSummary("Upload users and attributes as a UTF-8 CSV (text/csv body).");
        return app;
    }

    private static int Limit(int limit) => limit is < 1 or > 1000
        ? throw ProblemException.BadRequest($"limit must be 1-1000; got {limit}.", "limit", 1000) : limit;

    private static async Task<Ok<UserView>> UpdateUser(string externalId, RestAuth auth, HttpContext http, IngestWriter writer,
        IdentityStore store, IOptions<IngestOptions> o, TimeProvider clock)
    {
        if (externalId.Length > 256) throw ProblemException.BadRequest("externalId is longer than 256 characters.", "externalId", 256);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        using var doc = await IngestEndpoints.ReadJsonAsync(http, o.Value.MaxEventBytes);
        var op = new IngestParser(o.Value, now).UserUpdate(externalId, doc.RootElement);
        var r = await writer.SubmitAsync(auth.AppId, [op], now, http.RequestAborted);
        if (r[0].Error is { } e) throw ProblemException.BadRequest(e.Detail, e.Field, e.Limit);
        return TypedResults.Ok((await store.GetUserAsync(auth.AppId, externalId, http.RequestAborted))!);
    }

    private static async Task<Ok<CsvImportReport>> ImportCsv(RestAuth auth, HttpContext http, IngestWriter writer, IOptions<IngestOptions> o, TimeProvider clock)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var bytes = await RequestBody.ReadAsync(http.Request, CsvUserImport.MaxBytes, http.RequestAborted);
        var text = CsvUserImport.DecodeStrict(bytes);
        var (ops, rejected) = CsvUserImport.Parse(text, o.Value);
        var accepted = 0;
        foreach (var chunk in ops.Chunk(1000))
        {
            var results = await writer.SubmitAsync(auth.AppId, chunk.Select((x, i) => (IngestOp)(x.Op with { Index = i })).ToList(), now, http.RequestAborted);
            foreach (var r in results)
            {
                if (r.Error is { } e) rejected.Add(new CsvRejectedRow(chunk[r.Index].Line, e.Field, e.Detail));
                else accepted++;
            }
        }
        return TypedResults.Ok(new CsvImportReport(accepted, rejected.OrderBy(r => r.Line).ToList()));
    }
}
