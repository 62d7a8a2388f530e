using Herald.Server.Apps;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Herald.Server.Geofences;

public static class GeofenceEndpoints
{
    public static IHostApplicationBuilder AddGeofences(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GeofenceOptions>().Bind(builder.Configuration.GetSection("Herald:Geofences")).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<GeofenceService>();
        // Before the real-time segments' observer (registered by AddSegments), so they see the new state.
        builder.Services.AddSingleton<Ingest.IIngestObserver, GeofenceObserver>();
        return builder;
    }

    public static IEndpointRouteBuilder MapGeofences(this IEndpointRouteBuilder app)
    {
        var groups = app.MapGroup("/api/v1/geofences/groups").WithTags("Geofences");
        groups.MapPost("/", async Task<Created<GeofenceGroupView>> (GeofenceGroupRequest body, RestAuth auth, GeofenceService geo, CancellationToken ct) =>
        {
            var g = await geo.CreateGroupAsync(auth.AppId, body, ct);
            return TypedResults.Created($"/api/v1/geofences/groups/{g.Id}", g);
        }).WithSummary("Create a geofence group (a name unique in the app, e.g. 'Stores').");
        groups.MapGet("/", async Task<Ok<IReadOnlyList<GeofenceGroupView>>> (RestAuth auth, GeofenceService geo, CancellationToken ct) =>
            TypedResults.Ok(await geo.ListGroupsAsync(auth.AppId, ct))).WithSummary("The app's geofence groups with their number of fences.");
        groups.MapPatch("/{id:long}", async Task<Ok<GeofenceGroupView>> (long id, GeofenceGroupRequest body, RestAuth auth, GeofenceService geo, CancellationToken ct) =>
            TypedResults.Ok(await geo.RenameGroupAsync(auth.AppId, id, body, ct))).WithSummary("Rename a group.");
        groups.MapDelete("/{id:long}", async Task<NoContent> (long id, RestAuth auth, GeofenceService geo, CancellationToken ct) =>
        {
            await geo.DeleteGroupAsync(auth.AppId, id, ct);
            return TypedResults.NoContent();
        }).WithSummary("Delete a group and every fence in it.");

        var fences = app.MapGroup("/api/v1/geofences").WithTags("Geofences");
        fences.MapPost("/", async Task<Created<GeofenceView>> (GeofenceRequest body, RestAuth auth, GeofenceService geo, CancellationToken ct) =>
        {
            var f = await geo.CreateAsync(auth.AppId, body, ct);
            return TypedResults.Created($"/api/v1/geofences/{f.Id}", f);
        }).WithSummary("Create a geofence in a group: exactly one of circle {latitude, longitude, radius (m)}, rectangle {southWest, northEast} or polygon [3–100 points].");
        fences.MapGet("/", async Task<Ok<IReadOnlyList<GeofenceView>>> (RestAuth auth, GeofenceService geo, CancellationToken ct, long? groupId = null) =>
            TypedResults.Ok(await geo.ListAsync(auth.AppId, groupId, ct))).WithSummary("The app's geofences (optionally of one group), with how many devices are inside each.");
        fences.MapGet("/{id:long}", async Task<Ok<GeofenceView>> (long id, RestAuth auth, GeofenceService geo, CancellationToken ct) =>
            TypedResults.Ok(await geo.GetAsync(auth.AppId, id, ct))).WithSummary("One geofence.");
        fences.MapPut("/{id:long}", async Task<Ok<GeofenceView>> (long id, GeofenceRequest body, RestAuth auth, GeofenceService geo, CancellationToken ct) =>
            TypedResults.Ok(await geo.UpdateAsync(auth.AppId, id, body, ct))).WithSummary("Replace a geofence's name, group, shape and active flag.");
        fences.MapDelete("/{id:long}", async Task<NoContent> (long id, RestAuth auth, GeofenceService geo, CancellationToken ct) =>
        {
            await geo.DeleteAsync(auth.AppId, id, ct);
            return TypedResults.NoContent();
        }).WithSummary("Delete a geofence.");

        app.MapPost("/sdk/v1/geofences/nearby", async Task<Ok<NearbyResponse>> (NearbyRequest body, SdkAuth auth, GeofenceService geo, CancellationToken ct) =>
                TypedResults.Ok(await geo.NearbyAsync(auth.AppId, body, ct)))
            .WithTags("SDK")
            .WithSummary("A device's position: kept as its location; answers the nearest active fences its OS can monitor (iOS 19, Android 99 plus one refresh circle), those it is inside, and the refresh circle to ask again on leaving.");
        return app;
    }
}
