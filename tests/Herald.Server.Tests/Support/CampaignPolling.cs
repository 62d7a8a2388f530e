using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Herald.Tests.Support;

public static class CampaignPolling
{
    /// <summary>Creates a campaign through the REST API and returns its id (201 expected).</summary>
    public static async Task<long> CreateCampaignAsync(this TestApp app, object definition)
    {
        var ct = TestContext.Current.CancellationToken;
        using var res = await app.Rest().PostAsJsonAsync("/api/v1/campaigns", definition, ct);
        var body = await res.Content.ReadFromJsonAsync<JsonElement>(ct);
        res.StatusCode.ShouldBe(HttpStatusCode.Created, body.ToString());
        return body.GetProperty("id").GetInt64();
    }

    /// <summary>Polls the live report until <paramref name="done"/> holds (bounded; no fixed sleeps).</summary>
    public static async Task<JsonElement> ReportWhenAsync(this TestApp app, long id, Func<JsonElement, bool> done)
    {
        for (var i = 0; i < 600; i++)
        {
            var r = await app.Rest().GetJson($"/api/v1/campaigns/{id}/report");
            if (done(r)) return r;
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException("the campaign did not reach the expected state within 30 s");
    }

    /// <summary>Reads until <paramref name="done"/> holds (bounded, 30 s; no fixed sleeps).</summary>
    public static async Task<T> UntilAsync<T>(Func<T> read, Func<T, bool> done)
    {
        for (var i = 0; i < 600; i++)
        {
            var value = read();
            if (done(value)) return value;
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException("the expected state was not reached within 30 s");
    }
}
