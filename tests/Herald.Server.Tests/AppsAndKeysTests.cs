using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Herald.Tests;

public abstract class AppsAndKeysTests(HeraldHost host)
{
    [Fact]
    public async Task Health_ready_and_openapi_answer()
    {
        var c = host.Client();
        (await c.GetAsync("/health", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await c.GetStringAsync("/ready", TestContext.Current.CancellationToken)).ShouldBe("Healthy");
        var doc = await c.GetJson("/openapi/v1.json");
        doc.GetProperty("paths").TryGetProperty("/v1/batch", out _).ShouldBeTrue();
        doc.GetProperty("paths").TryGetProperty("/sdk/v1/events", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Creating_an_app_needs_a_valid_admin_key()
    {
        var c = host.Client();
        (await c.PostJson("/admin/v1/apps", new { name = "x" })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "hak_not-a-real-key-123");
        await (await c.PostJson("/admin/v1/apps", new { name = "x" })).ShouldBeProblem(HttpStatusCode.Unauthorized);
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.AdminKey);
        await (await c.PostJson("/admin/v1/apps", new { name = "x", timezone = "Mars/Olympus" })).ShouldBeProblem(HttpStatusCode.BadRequest, "timezone");
        await (await c.PostJson("/admin/v1/apps", new { name = "x", category = "games" })).ShouldBeProblem(HttpStatusCode.BadRequest, "category");
    }

    [Fact]
    public async Task Keys_are_shown_once_stored_hashed_and_revocable()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        var created = await (await rest.PostJson("/api/v1/app/keys", new { kind = "rest", name = "ci" })).Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        var secret = created.GetProperty("key").GetString()!;
        var id = created.GetProperty("id").GetInt64();

        var listed = await rest.GetStringAsync("/api/v1/app/keys", TestContext.Current.CancellationToken);
        listed.ShouldNotContain(secret);
        listed.ShouldContain(secret[..12]);

        var c = host.Client();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        (await c.GetAsync("/api/v1/app", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await rest.DeleteAsync($"/api/v1/app/keys/{id}", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await (await c.GetAsync("/api/v1/app", TestContext.Current.CancellationToken)).ShouldBeProblem(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_key_restricted_to_other_addresses_is_refused()
    {
        var app = await host.NewAppAsync();
        var created = await (await app.Rest().PostJson("/api/v1/app/keys", new { kind = "rest", ipAllowList = "10.1.0.0/16" }))
            .Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        var c = host.Client();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", created.GetProperty("key").GetString());
        await (await c.GetAsync("/api/v1/app", TestContext.Current.CancellationToken)).ShouldBeProblem(HttpStatusCode.Forbidden, "Authorization");
        await (await app.Rest().PostJson("/api/v1/app/keys", new { kind = "rest", ipAllowList = "not-an-ip" })).ShouldBeProblem(HttpStatusCode.BadRequest, "ipAllowList");
    }

    [Fact]
    public async Task The_sdk_key_cannot_read()
    {
        var app = await host.NewAppAsync();
        await (await app.Sdk().GetAsync("/api/v1/app", TestContext.Current.CancellationToken)).ShouldBeProblem(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Provider_credentials_and_vapid_keys_are_encrypted_at_rest_and_older_plain_rows_are_encrypted_at_start()
    {
        var ct = TestContext.Current.CancellationToken;
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        (await rest.PutAsJsonAsync("/api/v1/app/credentials/smtp", new { host = "smtp.example.com", port = 587, from = "news@example.com", username = "u", password = "hunter2-very-secret" }, ct))
            .EnsureSuccessStatusCode();
        var db = host.Services.GetRequiredService<Herald.Server.Storage.Db>();
        async Task<(string Credentials, string Vapid)> RawAsync()
        {
            await using var conn = await db.OpenAsync(ct);
            return await Dapper.SqlMapper.QuerySingleAsync<(string, string)>(conn, "SELECT credentials, vapid_private_key FROM apps WHERE id = @id", new { id = app.Id });
        }
        var (credentials, vapid) = await RawAsync();
        credentials.ShouldStartWith("enc:v1:");
        credentials.ShouldNotContain("hunter2");
        credentials.ShouldNotContain("smtp.example.com");
        vapid.ShouldStartWith("enc:v1:");
        (await rest.GetStringAsync("/api/v1/app", ct)).ShouldContain("smtp.example.com"); // the masked view still reads it

        // A value is bound to its row: another app's row does not open with it.
        var box = host.Services.GetRequiredService<Herald.Server.Apps.SecretBox>();
        box.Unprotect(credentials, Herald.Server.Apps.AppService.CredentialsContext(app.Id)).ShouldContain("hunter2-very-secret");
        Should.Throw<System.Security.Cryptography.CryptographicException>(() => box.Unprotect(credentials, Herald.Server.Apps.AppService.CredentialsContext(app.Id + 1)))
            .Message.ShouldContain("Herald:Security:MasterKey");

        // A row as an older Herald wrote it (plain JSON) still works, and is encrypted at the next start.
        await using (var conn = await db.OpenAsync(ct))
            await Dapper.SqlMapper.ExecuteAsync(conn, "UPDATE apps SET credentials = @c WHERE id = @id",
                new { id = app.Id, c = """{"smtp":{"host":"legacy.example.com","port":25,"from":"old@example.com","username":"u","password":"plain-old-secret","startTls":false}}""" });
        (await rest.GetStringAsync("/api/v1/app", ct)).ShouldContain("legacy.example.com");
        (await host.Services.GetRequiredService<Herald.Server.Apps.AppService>().EncryptStoredSecretsAsync(ct)).ShouldBeGreaterThanOrEqualTo(1);
        (await RawAsync()).Credentials.ShouldStartWith("enc:v1:");
        (await RawAsync()).Credentials.ShouldNotContain("plain-old-secret");
        (await rest.GetStringAsync("/api/v1/app", ct)).ShouldContain("legacy.example.com");
    }

    [Fact]
    public async Task Settings_change_and_credentials_are_never_echoed()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        using var patch = await rest.PatchAsJsonAsync("/api/v1/app", new { category = "media", timezone = "Asia/Tokyo", limits = new { maxPushesPerUserPerDay = 3, quietHoursStart = "22:00", quietHoursEnd = "08:00" } }, TestContext.Current.CancellationToken);
        var view = await patch.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        patch.StatusCode.ShouldBe(HttpStatusCode.OK, view.ToString());
        view.GetProperty("category").GetString().ShouldBe("media");
        view.GetProperty("timezone").GetString().ShouldBe("Asia/Tokyo");
        view.GetProperty("limits").GetProperty("maxPushesPerUserPerDay").GetInt32().ShouldBe(3);
        view.GetProperty("vapidPublicKey").GetString()!.Length.ShouldBe(87); // 65 bytes, base64url

        using var bad = await rest.PatchAsJsonAsync("/api/v1/app", new { limits = new { quietHoursStart = "25:00", quietHoursEnd = "08:00" } }, TestContext.Current.CancellationToken);
        await bad.ShouldBeProblem(HttpStatusCode.BadRequest, "limits.quietHoursStart");

        using var put = await rest.PutAsJsonAsync("/api/v1/app/credentials/smtp", new { host = "smtp.example.com", port = 587, from = "news@example.com", username = "u", password = "hunter2-very-secret" }, TestContext.Current.CancellationToken);
        var text = await put.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        put.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        text.ShouldNotContain("hunter2-very-secret");
        text.ShouldContain("sha256:");
        (await rest.GetStringAsync("/api/v1/app", TestContext.Current.CancellationToken)).ShouldNotContain("hunter2");

        using var wrongType = await rest.PutAsync("/api/v1/app/credentials/smtp", Http.Json("""{"host":"h","port":"five","from":"a@b.c"}"""), TestContext.Current.CancellationToken);
        await wrongType.ShouldBeProblem(HttpStatusCode.BadRequest, "$.port");
        using var unknown = await rest.PutAsync("/api/v1/app/credentials/pigeon", Http.Json("{}"), TestContext.Current.CancellationToken);
        await unknown.ShouldBeProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Another_apps_key_finds_nothing()
    {
        var a = await host.NewAppAsync();
        var b = await host.NewAppAsync();
        var reg = await a.Sdk().PostOk("/sdk/v1/devices", """{"platform":"android","pushToken":"tok-a","pushEnabled":true}""");
        var id = reg.GetProperty("installationId").GetString();
        await a.Rest().GetJson($"/api/v1/devices/{id}");
        // 404, not 403: another app's ids must not even be confirmed to exist.
        await (await b.Rest().GetAsync($"/api/v1/devices/{id}", TestContext.Current.CancellationToken)).ShouldBeProblem(HttpStatusCode.NotFound);
        await (await b.Sdk().PostAsync("/sdk/v1/events", Http.Json($$"""{"installationId":"{{id}}","events":[{"messageId":"x1","name":"e","timestamp":"2026-11-25T11:00:00Z"}]}"""), TestContext.Current.CancellationToken))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "installationId");
    }
}

[Collection(SqliteCollection.Name)]
public sealed class AppsAndKeysTestsSqlite(SqliteHost host) : AppsAndKeysTests(host);

[Collection(PostgresCollection.Name)]
public sealed class AppsAndKeysTestsPostgres(PostgresHost host) : AppsAndKeysTests(host);
