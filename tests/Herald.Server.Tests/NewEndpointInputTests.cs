using System.Net;

namespace Herald.Tests;

/// <summary>Every JSON endpoint added with geofences, the catalog, exports and predictions: a malformed body and an oversized one are problems naming what was wrong, and nothing is stored.</summary>
public abstract class NewEndpointInputTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, bool> Endpoints => new()
    {
        { "POST", "/api/v1/geofences/groups", false },
        { "PATCH", "/api/v1/geofences/groups/1", false },
        { "POST", "/api/v1/geofences", false },
        { "PUT", "/api/v1/geofences/1", false },
        { "POST", "/sdk/v1/geofences/nearby", true },
        { "PUT", "/api/v1/catalog/items", false },
        { "POST", "/api/v1/exports/scheduled", false },
        { "PUT", "/api/v1/exports/scheduled/1", false },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task A_malformed_body_is_400_and_an_oversized_one_413_naming_the_body(string method, string path, bool sdk)
    {
        var app = await host.NewAppAsync();
        var client = sdk ? app.Sdk() : app.Rest();
        using (var bad = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = Http.Json("""{"name": "Stores", """) }, Ct))
            await bad.ShouldBeProblem(HttpStatusCode.BadRequest);
        using (var wrong = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = Http.Json("""{"name": 42, "latitude": "north"}""") }, Ct))
            ((int)wrong.StatusCode).ShouldBeInRange(400, 404, await wrong.Content.ReadAsStringAsync(Ct));
        var huge = "{\"name\":\"" + new string('x', 1_100_000) + "\"}";
        using (var big = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = Http.Json(huge) }, Ct))
            (await big.ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "body")).GetProperty("limit").GetInt32().ShouldBe(1024 * 1024);
        (await app.Rest().GetJson("/api/v1/geofences/groups")).GetArrayLength().ShouldBe(0);
        (await app.Rest().GetJson("/api/v1/exports/scheduled")).GetArrayLength().ShouldBe(0);
        (await app.Rest().GetJson("/api/v1/catalog/items")).GetProperty("items").GetArrayLength().ShouldBe(0);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class NewEndpointInputTestsSqlite(SqliteHost host) : NewEndpointInputTests(host);

[Collection(PostgresCollection.Name)]
public sealed class NewEndpointInputTestsPostgres(PostgresHost host) : NewEndpointInputTests(host);
