using Herald.Server.Apps;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Exports;

public static class ExportEndpoints
{
    public static IHostApplicationBuilder AddExports(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ExportOptions>().Bind(builder.Configuration.GetSection(ExportOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<EventExport>();
        builder.Services.AddSingleton<ExportService>();
        builder.Services.AddHostedService<ScheduledExportWorker>();
        return builder;
    }

    public static IEndpointRouteBuilder MapExports(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/exports").WithTags("Exports");
        api.MapGet("/events", async (RestAuth auth, ExportService exports, EventExport events, HttpContext http, string? from = null, string? to = null, string? names = null) =>
        {
            // Checked before the first byte: a bad range or name is a problem response, not a broken CSV.
            var (start, end, list) = await exports.EventsRangeAsync(auth.AppId, from, to, names, http.RequestAborted);
            http.Response.ContentType = "text/csv; charset=utf-8";
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"events-{from}-{to ?? from}.csv\"";
            await events.WriteCsvAsync(auth.AppId, start, end, list, http.Response.Body, http.RequestAborted);
        }).WithSummary("Raw events as CSV (UTF-8): ?from=YYYY-MM-DD&to=YYYY-MM-DD (the app's timezone, inclusive, at most 366 days)&names=purchase,add_to_cart.");

        var scheduled = api.MapGroup("/scheduled");
        scheduled.MapPost("/", async Task<Created<ScheduledExportView>> (ScheduledExportRequest body, RestAuth auth, ExportService exports, CancellationToken ct) =>
        {
            var e = await exports.CreateAsync(auth.AppId, body, ct);
            return TypedResults.Created($"/api/v1/exports/scheduled/{e.Id}", e);
        }).WithSummary("A daily export at a local time: kind 'events' (yesterday's raw events) or 'segment' (members with attributes), into a folder under the export root.");
        scheduled.MapGet("/", async Task<Ok<IReadOnlyList<ScheduledExportView>>> (RestAuth auth, ExportService exports, CancellationToken ct) =>
            TypedResults.Ok(await exports.ListAsync(auth.AppId, ct))).WithSummary("The app's scheduled exports with their next and last runs.");
        scheduled.MapGet("/{id:long}", async Task<Ok<ScheduledExportView>> (long id, RestAuth auth, ExportService exports, CancellationToken ct) =>
            TypedResults.Ok(await exports.GetAsync(auth.AppId, id, ct))).WithSummary("One scheduled export.");
        scheduled.MapPut("/{id:long}", async Task<Ok<ScheduledExportView>> (long id, ScheduledExportRequest body, RestAuth auth, ExportService exports, CancellationToken ct) =>
            TypedResults.Ok(await exports.UpdateAsync(auth.AppId, id, body, ct))).WithSummary("Replace a scheduled export.");
        scheduled.MapDelete("/{id:long}", async Task<NoContent> (long id, RestAuth auth, ExportService exports, CancellationToken ct) =>
        {
            await exports.DeleteAsync(auth.AppId, id, ct);
            return TypedResults.NoContent();
        }).WithSummary("Delete a scheduled export (files already written stay).");
        scheduled.MapPost("/{id:long}/run", async Task<Ok<ExportRun>> (long id, RestAuth auth, ExportService exports, CancellationToken ct) =>
            TypedResults.Ok(await exports.RunNowAsync(auth.AppId, id, ct))).WithSummary("Write the export now (its schedule stays); 409 while a run is writing it.");
        return app;
    }
}
