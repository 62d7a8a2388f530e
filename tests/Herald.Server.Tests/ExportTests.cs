using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Server.Exports;

namespace Herald.Tests;

/// <summary>Exports (R-AN-5): raw events as CSV on demand, and daily scheduled exports written to the export folder.</summary>
public abstract class ExportTests(HeraldHost host) : AutomatedCampaignTests(host)
{
    private ExportService Exports => Host.Services.GetRequiredService<ExportService>();

    /// <summary>An identified phone and an anonymous one, with events on 24 and 25 November (Istanbul time).</summary>
    private async Task<TestApp> AppWithEventsAsync()
    {
        var app = await Host.NewAppAsync();
        var ayse = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"android"}""")).GetProperty("installationId").GetString()!;
        await app.Sdk().PostOk("/sdk/v1/identify", $$"""{"installationId":"{{ayse}}","externalId":"ayşe"}""");
        var anon = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"ios"}""")).GetProperty("installationId").GetString()!;
        async Task EventAsync(string device, string name, string at, string attributes) =>
            await app.Sdk().PostOk("/sdk/v1/events",
                $$"""{"installationId":"{{device}}","events":[{"messageId":"{{Guid.NewGuid()}}","name":"{{name}}","timestamp":"{{at}}","attributes":{{attributes}} } ] }""");
        await EventAsync(ayse, "search", "2026-11-23T21:30:00Z", """{"query":"kırmızı ayakkabı, 42"}"""); // 24 Nov 00:30 in Istanbul
        await EventAsync(ayse, "purchase", "2026-11-24T10:00:00Z", """{"total":1499.9}""");
        await EventAsync(anon, "search", "2026-11-24T20:59:00Z", """{"query":"çorap"}""");             // 24 Nov 23:59
        await EventAsync(anon, "search", "2026-11-24T21:01:00Z", """{"query":"şapka"}""");             // 25 Nov 00:01
        await Host.Services.GetRequiredService<Herald.Server.Ingest.ObserverPump>().CaughtUpAsync(Ct);
        return app;
    }

    private static List<string[]> Rows(string csv) =>
        [.. Herald.Server.Identity.Csv.Read(csv.TrimStart('\uFEFF')).Skip(1).Select(r => r.Fields.ToArray())];

    [Fact]
    public async Task Raw_events_of_local_days_come_as_csv_with_who_did_them_and_their_attributes()
    {
        var app = await AppWithEventsAsync();
        using var res = await app.Rest().GetAsync("/api/v1/exports/events?from=2026-11-24&to=2026-11-24", Ct);
        res.StatusCode.ShouldBe(HttpStatusCode.OK);
        res.Content.Headers.ContentType!.MediaType.ShouldBe("text/csv");
        var csv = await res.Content.ReadAsStringAsync(Ct);
        csv.Split("\r\n")[0].TrimStart('\uFEFF').ShouldBe(string.Join(',', EventExport.Header));
        var rows = Rows(csv);
        rows.Select(r => r[1]).ShouldBe(["purchase", "search", "search"]); // by name, then time
        rows.Select(r => r[0]).ShouldBe(["2026-11-24T10:00:00.000Z", "2026-11-23T21:30:00.000Z", "2026-11-24T20:59:00.000Z"]);
        rows[1][4].ShouldBe("ayşe");
        JsonDocument.Parse(rows[1][10]).RootElement.GetProperty("query").GetString().ShouldBe("kırmızı ayakkabı, 42");
        rows[2][4].ShouldBe("");

        var searches = Rows(await app.Rest().GetStringAsync("/api/v1/exports/events?from=2026-11-24&to=2026-11-25&names=search", Ct));
        searches.Count.ShouldBe(3);

        // A deleted user's events are in no later export (R-ID-5).
        (await app.Rest().DeleteAsync("/api/v1/users/ayşe", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        Rows(await app.Rest().GetStringAsync("/api/v1/exports/events?from=2026-11-24", Ct)).Select(r => r[4]).ShouldAllBe(x => x == "");
    }

    [Theory]
    [InlineData("from=2026-11-31", "from")]
    [InlineData("to=2026-11-24", "from")]
    [InlineData("from=2026-11-25&to=2026-11-24", "to")]
    [InlineData("from=2025-01-01&to=2026-11-24", "to")]
    [InlineData("from=2026-11-24&names=search,checkout_started", "names[1]")]
    public async Task A_bad_events_export_is_a_problem_naming_the_parameter(string query, string field)
    {
        var app = await AppWithEventsAsync();
        await (await app.Rest().GetAsync($"/api/v1/exports/events?{query}", Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, field);
    }

    [Fact]
    public async Task A_daily_events_export_writes_yesterday_at_its_local_time_once_and_then_waits_a_day()
    {
        var app = await AppWithEventsAsync();
        // The host's clock is 25 Nov 12:00 UTC (15:00 in Istanbul): the next 02:00 is 26 Nov 02:00 local = 25 Nov 23:00 UTC.
        var created = await app.Rest().PostCreated("/api/v1/exports/scheduled", """{"name":"Daily events","kind":"events","folder":"crm/daily","timeOfDay":"02:00"}""");
        var id = created.GetProperty("id").GetInt64();
        created.GetProperty("timezone").GetString().ShouldBe("Europe/Istanbul");
        created.GetProperty("nextRunAt").GetInt64().ShouldBe(DateTimeOffset.Parse("2026-11-25T23:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
        (await Exports.RunDueAsync(Ct)).ShouldBe(0);

        Host.Clock.Set(DateTimeOffset.Parse("2026-11-25T23:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        // Two workers at once (as two nodes would): one writes it.
        var passes = await Task.WhenAll(Exports.RunDueAsync(Ct), Exports.RunDueAsync(Ct));
        passes.Sum().ShouldBe(1);
        var view = await app.Rest().GetJson($"/api/v1/exports/scheduled/{id}");
        view.GetProperty("lastStatus").GetString().ShouldBe("ok", view.ToString());
        view.GetProperty("lastFile").GetString().ShouldBe($"app-{app.Id}/crm/daily/daily-events-2026-11-25.csv");
        view.GetProperty("lastRows").GetInt64().ShouldBe(1); // 25 Nov local: the 00:01 search only
        view.GetProperty("nextRunAt").GetInt64().ShouldBe(DateTimeOffset.Parse("2026-11-26T23:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
        var file = Path.Combine(Host.ExportRoot, $"app-{app.Id}", "crm", "daily", "daily-events-2026-11-25.csv");
        Rows(await File.ReadAllTextAsync(file, Ct)).Single()[10].ShouldContain("şapka");
        Directory.GetFiles(Path.GetDirectoryName(file)!).ShouldBe([file]); // no partial file left beside it
        (await Exports.RunDueAsync(Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task A_segment_export_runs_on_demand_and_a_failing_one_says_why_and_is_tried_again_in_an_hour()
    {
        var app = await AppWithEventsAsync();
        (await app.Rest().PutAsJsonAsync("/api/v1/users/ayşe", new { email = "ayse@example.com", attributes = new { city = "İzmir" } }, Ct)).EnsureSuccessStatusCode();
        var segment = (await app.Rest().PostCreated("/api/v1/segments", """{"name":"Searchers","rules":{"event":"search"}}""")).GetProperty("id").GetInt64();
        var created = await app.Rest().PostCreated("/api/v1/exports/scheduled",
            $$"""{"name":"Searchers for CRM","kind":"segment","segmentId":{{segment}},"attributes":["email","city"],"timeOfDay":"06:30"}""");
        var id = created.GetProperty("id").GetInt64();

        var run = await app.Rest().PostOk($"/api/v1/exports/scheduled/{id}/run", "{}");
        run.GetProperty("status").GetString().ShouldBe("ok");
        run.GetProperty("rows").GetInt64().ShouldBe(2);
        var rows = Rows(await File.ReadAllTextAsync(Path.Combine(Host.ExportRoot, run.GetProperty("file").GetString()!), Ct));
        rows.Single(r => r[2] == "ayşe").Skip(4).ShouldBe(["ayse@example.com", "İzmir"]);
        // Running now leaves the schedule as it was.
        (await app.Rest().GetJson($"/api/v1/exports/scheduled/{id}")).GetProperty("nextRunAt").GetInt64().ShouldBe(created.GetProperty("nextRunAt").GetInt64());

        // A file where the folder should be: the run fails, says why, and is tried again in an hour.
        var blocked = await app.Rest().PostCreated("/api/v1/exports/scheduled", """{"name":"Blocked","kind":"events","folder":"blocked","timeOfDay":"07:00"}""");
        Directory.CreateDirectory(Path.Combine(Host.ExportRoot, $"app-{app.Id}"));
        await File.WriteAllTextAsync(Path.Combine(Host.ExportRoot, $"app-{app.Id}", "blocked"), "in the way", Ct);
        var due = DateTimeOffset.FromUnixTimeMilliseconds(blocked.GetProperty("nextRunAt").GetInt64());
        Host.Clock.Set(due);
        (await Exports.RunDueAsync(Ct)).ShouldBe(2); // the segment export (06:30) is due too
        var failed = await app.Rest().GetJson($"/api/v1/exports/scheduled/{blocked.GetProperty("id").GetInt64()}");
        failed.GetProperty("lastStatus").GetString().ShouldBe("failed");
        failed.GetProperty("lastError").GetString()!.ShouldNotBeNullOrWhiteSpace();
        failed.GetProperty("nextRunAt").GetInt64().ShouldBe(due.AddHours(1).ToUnixTimeMilliseconds());
        (await app.Rest().GetJson($"/api/v1/exports/scheduled/{id}")).GetProperty("lastStatus").GetString().ShouldBe("ok");
    }

    [Fact]
    public async Task The_exports_page_downloads_events_and_manages_daily_exports_for_marketers()
    {
        var app = await AppWithEventsAsync();
        var owner = await PanelAccounts.OwnerAsync(Host);
        var viewer = PanelClient.For(Host);
        await viewer.LoginAsync((await PanelAccounts.MemberAsync(Host, app.Id, Herald.Server.Accounts.Roles.Viewer, owner)).Email, PanelAccounts.Password);
        var marketer = PanelClient.For(Host);
        await marketer.LoginAsync((await PanelAccounts.MemberAsync(Host, app.Id, Herald.Server.Accounts.Roles.Marketer, owner)).Email, PanelAccounts.Password);
        var url = $"/panel/apps/{app.Id}/exports";
        (await viewer.GetAsync(url)).Body.ShouldNotContain("Add daily export");
        (await viewer.GetAsync($"{url}?handler=events&from=2026-11-24")).Status.ShouldBe(HttpStatusCode.Forbidden);

        var csv = await marketer.GetAsync($"{url}?handler=events&from=2026-11-24&names=search");
        csv.Status.ShouldBe(HttpStatusCode.OK);
        Rows(csv.Body).Select(r => r[1]).ShouldBe(["search", "search"]);
        WebUtility.HtmlDecode((await marketer.GetAsync($"{url}?handler=events&from=2026-11-24&names=nope")).Body).ShouldContain("no event named 'nope'");

        var made = WebUtility.HtmlDecode((await marketer.PostFormAsync(url, new Dictionary<string, string>
        {
            ["name"] = "Purchases daily", ["kind"] = "events", ["eventNames"] = "purchase", ["folder"] = "finance", ["timeOfDay"] = "03:15",
        }, $"{url}?handler=create")).Body);
        made.ShouldContain("“Purchases daily” is written every day at 03:15 (Europe/Istanbul).");
        var id = (await app.Rest().GetJson("/api/v1/exports/scheduled")).EnumerateArray().Single().GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        WebUtility.HtmlDecode((await marketer.PostFormAsync(url, new Dictionary<string, string> { ["name"] = "x", ["kind"] = "events", ["folder"] = "../up" }, $"{url}?handler=create")).Body)
            .ShouldContain("folder must be a relative path");
        WebUtility.HtmlDecode((await marketer.PostFormAsync(url, new Dictionary<string, string> { ["id"] = id }, $"{url}?handler=run")).Body)
            .ShouldContain($"Written: app-{app.Id}/finance/purchases-daily-");
        (await marketer.PostFormAsync(url, new Dictionary<string, string> { ["id"] = id }, $"{url}?handler=delete")).Body.ShouldContain("Scheduled export deleted");
        (await app.Rest().GetJson("/api/v1/exports/scheduled")).GetArrayLength().ShouldBe(0);
    }

    [Theory]
    [InlineData("""{"name":"x","kind":"events","folder":"../etc"}""", "folder")]
    [InlineData("""{"name":"x","kind":"events","folder":"crm/a b"}""", "folder")]
    [InlineData("""{"name":"x","kind":"events","timeOfDay":"24:00"}""", "timeOfDay")]
    [InlineData("""{"name":"x","kind":"pdf"}""", "kind")]
    [InlineData("""{"name":"x","kind":"segment"}""", "segmentId")]
    [InlineData("""{"name":"x","kind":"segment","segmentId":987654321}""", "segmentId")]
    [InlineData("""{"name":"x","kind":"events","events":["nope"]}""", "events[0]")]
    [InlineData("""{"name":"","kind":"events"}""", "name")]
    public async Task Bad_scheduled_exports_are_refused_naming_the_field(string json, string field)
    {
        var app = await Host.NewAppAsync();
        await (await app.Rest().PostAsync("/api/v1/exports/scheduled", Http.Json(json), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, field);
        (await app.Rest().GetJson("/api/v1/exports/scheduled")).GetArrayLength().ShouldBe(0);
        var other = await Host.NewAppAsync();
        await (await other.Rest().PostAsync("/api/v1/exports/scheduled/1/run", Http.Json("{}"), Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class ExportTestsSqlite(SqliteHost host) : ExportTests(host);

[Collection(PostgresCollection.Name)]
public sealed class ExportTestsPostgres(PostgresHost host) : ExportTests(host);
