using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Herald.Server.Ingest;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Analytics;

public static class AnalyticsEndpoints
{
    public static IHostApplicationBuilder AddAnalytics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AnalyticsOptions>().Bind(builder.Configuration.GetSection(AnalyticsOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<RollupStore>();
        builder.Services.AddSingleton<EventIndexes>();
        builder.Services.AddSingleton<AnalyticsService>();
        builder.Services.AddSingleton<MemberDirectory>();
        // Registered before the segments' observer: real-time segments read the rollups just merged.
        builder.Services.AddSingleton<IIngestObserver, AnalyticsObserver>();
        return builder;
    }

    public static IEndpointRouteBuilder MapAnalytics(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/analytics").WithTags("Analytics").AfterIngestCaughtUp();
        api.MapGet("/events/{name}", async Task<Ok<EventSeries>> (string name, RestAuth auth, AnalyticsService analytics, CancellationToken ct,
                string? from = null, string? to = null, string? interval = null, string? breakdown = null, int top = 10,
                string? estimate = null, int precision = 14) =>
            TypedResults.Ok(await analytics.SeriesAsync(auth.AppId, name, from, to, interval, breakdown, top, estimate, precision, ct)))
            .WithSummary("Count, unique devices and unique users of an event per day, week or month in the app's timezone; optional breakdown by one property.");
        api.MapPost("/funnels", async Task<Ok<FunnelResponse>> (FunnelRequest request, RestAuth auth, AnalyticsService analytics, CancellationToken ct) =>
            TypedResults.Ok(AnalyticsService.Describe(await analytics.FunnelAsync(auth.AppId, request, ct))))
            .WithSummary("Exact funnel: 2–10 steps, conversion window, sequential / strict / any order, optional exclusion, per device or user.");
        api.MapPost("/funnels/export", async (FunnelRequest request, RestAuth auth, AnalyticsService analytics, MemberDirectory directory,
            HttpContext http, int step, string outcome = "reached", string? attributes = null) =>
        {
            var plan = await analytics.FunnelAsync(auth.AppId, request, http.RequestAborted);
            var n = plan.Result.StepCount;
            if (step < 1 || step > n) throw ProblemException.BadRequest($"step must be 1 to {n}; got {step}.", "step", n);
            var members = outcome switch
            {
                "reached" => plan.Result.ReachedStep(step - 1),
                "dropped" => plan.Result.DroppedAfter(step - 1),
                _ => throw ProblemException.BadRequest($"outcome must be reached or dropped; got '{outcome}'.", "outcome"),
            };
            var names = ParseAttributes(attributes);
            http.Response.ContentType = "text/csv; charset=utf-8";
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"funnel-step{step}-{outcome}.csv\"";
            if (plan.ByUser) await directory.WriteUsersCsvAsync(auth.AppId, members, names, http.Response.Body, http.RequestAborted);
            else await directory.WriteDevicesCsvAsync(auth.AppId, members, names, http.Response.Body, http.RequestAborted);
        }).WithSummary("CSV of the devices (or users) that reached step k, or whose furthest step was k (dropped there).");
        api.MapGet("/retention", async Task<Ok<RetentionResponse>> (RestAuth auth, AnalyticsService analytics, CancellationToken ct,
                string? cohortEvent = null, string? returnEvent = null, string? from = null, string? to = null,
                string? period = null, int periods = 7, string? by = null) =>
            TypedResults.Ok(await analytics.RetentionAsync(auth.AppId, cohortEvent, returnEvent, from, to, period, periods, by, ct)))
            .WithSummary("N-day or N-week retention: cohorts by first cohortEvent, returning by returnEvent, in the app's timezone.");
        return app;
    }

    /// <summary>Comma-separated attribute names for CSV exports (at most 50).</summary>
    public static IReadOnlyList<string> ParseAttributes(string? attributes)
    {
        var names = (attributes ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length > 50) throw ProblemException.BadRequest($"At most 50 attributes per export; got {names.Length}.", "attributes", 50);
        return names;
    }
}

/// <summary>After each ingest commit: merge the new events into the rollups and the cached funnel indexes.</summary>
public sealed class AnalyticsObserver(RollupStore rollups, EventIndexes indexes) : IIngestObserver
{
    public async Task OnCommittedAsync(IReadOnlyList<StoredEvent> events)
    {
        if (events.Count == 0) return;
        await rollups.MergeAsync(events);
        indexes.Append(events);
    }
}
