using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Herald.Tests.Support;

public static class Http
{
    public static StringContent Json(string json, string contentType = "application/json") =>
        new(json, Encoding.UTF8, contentType);

    public static Task<JsonElement> PostOk(this HttpClient c, string url, string json) => c.PostExpecting(url, json, HttpStatusCode.OK);

    public static Task<JsonElement> PostCreated(this HttpClient c, string url, string json) => c.PostExpecting(url, json, HttpStatusCode.Created);

    private static async Task<JsonElement> PostExpecting(this HttpClient c, string url, string json, HttpStatusCode status)
    {
        using var res = await c.PostAsync(url, Json(json));
        var body = await res.Content.ReadAsStringAsync();
        res.StatusCode.ShouldBe(status, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public static async Task<JsonElement> GetJson(this HttpClient c, string url, HttpStatusCode expect = HttpStatusCode.OK)
    {
        using var res = await c.GetAsync(url);
        var body = await res.Content.ReadAsStringAsync();
        res.StatusCode.ShouldBe(expect, body);
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Asserts an RFC 9457 problem response with the given status and returns it.</summary>
    public static async Task<JsonElement> ShouldBeProblem(this HttpResponseMessage res, HttpStatusCode status, string? field = null)
    {
        var body = await res.Content.ReadAsStringAsync();
        res.StatusCode.ShouldBe(status, body);
        res.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json", body);
        var p = JsonDocument.Parse(body).RootElement.Clone();
        p.GetProperty("status").GetInt32().ShouldBe((int)status);
        p.GetProperty("detail").GetString().ShouldNotBeNullOrWhiteSpace();
        if (field is not null) p.GetProperty("field").GetString().ShouldBe(field, body);
        return p;
    }

    public static Task<HttpResponseMessage> PostJson(this HttpClient c, string url, object body) =>
        c.PostAsJsonAsync(url, body);
}
