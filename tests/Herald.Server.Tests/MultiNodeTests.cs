using System.Net.Http.Headers;

namespace Herald.Tests;

/// <summary>R-OPS-2: several Herald nodes share one PostgreSQL database without double counting.</summary>
[Collection(PostgresCollection.Name)]
public sealed class MultiNodeTests(PostgresHost host)
{
    [Fact]
    public async Task The_same_batch_sent_to_two_nodes_at_once_is_stored_once()
    {
        var app = await host.NewAppAsync();
        var dev = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"web"}""")).GetProperty("installationId").GetString();
        await using var second = host.NewNode();
        var other = second.CreateClient();
        other.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", app.SdkKey);
        var first = app.Sdk();

        for (var round = 0; round < 5; round++)
        {
            var items = string.Join(",", Enumerable.Range(0, 40).Select(i => $$$"""{"messageId":"mn-{{{round}}}-{{{i}}}","name":"tick","timestamp":"2026-11-25T11:00:00Z"}"""));
            var body = $$$"""{"installationId":"{{{dev}}}","events":[{{{items}}}]}""";
            await Task.WhenAll(Enumerable.Range(0, 6).Select(i => (i % 2 == 0 ? first : other).PostOk("/sdk/v1/events", body)));
        }
        (await app.Rest().GetJson($"/api/v1/devices/{dev}/events?limit=1000")).GetArrayLength().ShouldBe(200);
        // The other node's key cache and identity resolution agree with the first.
        (await other.PostOk("/v1/identify", """{"userId":"mn-user","anonymousId":"mn-anon"}""")).GetProperty("accepted").GetInt32().ShouldBe(1);
        (await app.Rest().GetJson("/api/v1/users/mn-user")).GetProperty("devices").GetArrayLength().ShouldBe(1);
    }
}
