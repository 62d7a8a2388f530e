using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Herald.Server.Analytics;
using Herald.Server.Segments;

namespace Herald.Tests;

/// <summary>
/// Rollups, event series, funnels, retention and segments checked against brute-force counts over
/// generated data, on both engines. Each test makes its own app; the shared clock is restored.
/// </summary>
public abstract class AnalyticsTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Ev(string Device, string? User, string Name, long At, string Plan, string MessageId);

    private sealed record Dev(string Id, string Platform, bool Push, string Version, string? User);

    private sealed class World
    {
        public required TestApp App { get; init; }
        public List<Dev> Devices { get; } = [];
        public List<Ev> Events { get; } = [];
        public Dictionary<string, (int Age, bool Vip, string City, string Joined)> Users { get; } = [];
    }

    private async Task<World> GenerateAsync(int devices, int events, int seed, string[] names, int daysBack = 20)
    {
        var app = await host.NewAppAsync();
        var w = new World { App = app };
        var rnd = new Random(seed);
        var now = host.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        var cities = new[] { "İstanbul", "Ankara", "İzmir" };
        for (var u = 0; u < devices / 2; u++)
            w.Users[$"u{u}"] = (18 + rnd.Next(50), rnd.Next(3) == 0, cities[rnd.Next(3)], $"2026-{1 + rnd.Next(10):00}-{1 + rnd.Next(28):00}");
        for (var d = 0; d < devices; d++)
        {
            var platform = d % 3 == 0 ? "ios" : d % 3 == 1 ? "android" : "web";
            var push = rnd.Next(4) != 0;
            var version = $"1.{rnd.Next(12)}.0";
            var r = await app.Sdk().PostOk("/sdk/v1/devices", $$"""{"platform":"{{platform}}","pushEnabled":{{(push ? "true" : "false")}},"appVersion":"{{version}}","timezone":"Europe/Istanbul"}""");
            var id = r.GetProperty("installationId").GetString()!;
            string? user = rnd.Next(4) == 0 ? null : $"u{rnd.Next(devices / 2)}";
            if (user is not null)
            {
                var a = w.Users[user];
                await app.Sdk().PostOk("/sdk/v1/identify", $$$"""{"installationId":"{{{id}}}","externalId":"{{{user}}}","attributes":{"age":{{{a.Age}}},"vip":{{{(a.Vip ? "true" : "false")}}},"city":"{{{a.City}}}","joined":"{{{a.Joined}}}"}}""");
            }
            w.Devices.Add(new Dev(id, platform, push, version, user));
        }
        for (var i = 0; i < events; i++)
        {
            var dev = w.Devices[(int)Math.Floor(Math.Pow(rnd.NextDouble(), 1.5) * devices)];
            // Skewed popularity: the first name is the most frequent.
            var name = names[(int)Math.Floor(Math.Pow(rnd.NextDouble(), 2) * names.Length)];
            var at = now - (long)(rnd.NextDouble() * daysBack * 86_400_000L);
            w.Events.Add(new Ev(dev.Id, dev.User, name, at, rnd.Next(3) switch { 0 => "free", 1 => "pro", _ => "team" }, $"m-{seed}-{i}"));
        }
        // Late events: batches arrive shuffled (old days after new ones); two batches are retried.
        var batches = w.Events.OrderBy(_ => rnd.Next()).GroupBy(e => e.Device).ToList();
        foreach (var b in batches) await SendAsync(app, b.Key, b);
        foreach (var b in batches.Take(2)) await SendAsync(app, b.Key, b);
        return w;
    }

    private static async Task SendAsync(TestApp app, string device, IEnumerable<Ev> events)
    {
        var items = string.Join(",", events.Select(e => $$$"""{"messageId":"{{{e.MessageId}}}","name":"{{{e.Name}}}","timestamp":{{{e.At}}},"attributes":{"plan":"{{{e.Plan}}}"}}"""));
        await app.Sdk().PostOk("/sdk/v1/events", $$"""{"installationId":"{{device}}","events":[{{items}}]}""");
    }

    private static DateOnly LocalDate(long at, string tz) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(at), TimeZoneInfo.FindSystemTimeZoneById(tz)).DateTime);

    private static void ShouldMatchBruteForce(JsonElement series, List<Ev> events, string name, string tz, string interval)
    {
        var ofName = events.Where(e => e.Name == name).ToList();
        DateOnly BucketOf(DateOnly d) => interval switch
        {
            "week" => d.AddDays(-(((int)d.DayOfWeek + 6) % 7)),
            "month" => new DateOnly(d.Year, d.Month, 1),
            _ => d,
        };
        var from = DateOnly.Parse(series.GetProperty("from").GetString()!, CultureInfo.InvariantCulture);
        foreach (var b in series.GetProperty("buckets").EnumerateArray())
        {
            var start = DateOnly.Parse(b.GetProperty("start").GetString()!, CultureInfo.InvariantCulture);
            var inBucket = ofName.Where(e => LocalDate(e.At, tz) >= from && (BucketOf(LocalDate(e.At, tz)) == start || (start == from && BucketOf(LocalDate(e.At, tz)) < start))).ToList();
            b.GetProperty("count").GetInt64().ShouldBe(inBucket.Count, $"{name} {interval} {start}");
            b.GetProperty("uniqueDevices").GetInt64().ShouldBe(inBucket.Select(e => e.Device).Distinct().Count(), $"{name} {interval} {start}");
            b.GetProperty("uniqueUsers").GetInt64().ShouldBe(inBucket.Where(e => e.User is not null).Select(e => e.User).Distinct().Count(), $"{name} {interval} {start}");
        }
        var all = ofName.Where(e => LocalDate(e.At, tz) >= from).ToList();
        series.GetProperty("total").GetProperty("uniqueDevices").GetInt64().ShouldBe(all.Select(e => e.Device).Distinct().Count());
    }

    [Fact]
    public async Task Rollups_equal_brute_force_with_late_and_retried_batches_and_follow_a_timezone_change()
    {
        var w = await GenerateAsync(24, 400, 7, ["app_open", "view", "purchase"]);
        var rest = w.App.Rest();
        var to = LocalDate(host.Clock.GetUtcNow().ToUnixTimeMilliseconds(), "Europe/Istanbul").ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        foreach (var interval in new[] { "day", "week", "month" })
            foreach (var name in new[] { "app_open", "view", "purchase" })
                ShouldMatchBruteForce(await rest.GetJson($"/api/v1/analytics/events/{name}?from=2026-11-01&to={to}&interval={interval}"), w.Events, name, "Europe/Istanbul", interval);

        // Breakdown by an event property: top 2 values and the rest as "other".
        var bd = await rest.GetJson($"/api/v1/analytics/events/view?from=2026-11-01&to={to}&breakdown=plan&top=2");
        var rows = bd.GetProperty("breakdown").EnumerateArray().ToList();
        var expected = w.Events.Where(e => e.Name == "view" && LocalDate(e.At, "Europe/Istanbul") >= new DateOnly(2026, 11, 1))
            .GroupBy(e => e.Plan).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
        rows.Count.ShouldBe(3);
        rows[0].GetProperty("value").GetString().ShouldBe(expected[0].Key);
        rows[0].GetProperty("count").GetInt64().ShouldBe(expected[0].Count());
        rows[2].GetProperty("other").GetBoolean().ShouldBeTrue();
        rows[2].GetProperty("uniqueDevices").GetInt64().ShouldBe(expected.Skip(2).SelectMany(g => g).Select(e => e.Device).Distinct().Count());

        // HLL: small sets stay in sparse mode, which is practically exact; the error is stated.
        var hll = await rest.GetJson($"/api/v1/analytics/events/app_open?from=2026-11-01&to={to}&estimate=hll");
        hll.GetProperty("exact").GetBoolean().ShouldBeFalse();
        hll.GetProperty("standardError").GetDouble().ShouldBe(1.04 / 128, 1e-9);
        hll.GetProperty("total").GetProperty("uniqueDevices").GetInt64().ShouldBe(w.Events.Where(e => e.Name == "app_open" && LocalDate(e.At, "Europe/Istanbul") >= new DateOnly(2026, 11, 1)).Select(e => e.Device).Distinct().Count());

        // Lost rollups come back from the events table alone.
        (await host.Services.GetRequiredService<RollupStore>().RebuildAsync(w.App.Id, force: true, Ct)).ShouldBe(400);
        ShouldMatchBruteForce(await rest.GetJson($"/api/v1/analytics/events/view?from=2026-11-01&to={to}"), w.Events, "view", "Europe/Istanbul", "day");

        // Another timezone: days are cut elsewhere, and the rollups follow.
        using (var patch = await rest.PatchAsync("/api/v1/app", Http.Json("""{"timezone":"America/Los_Angeles"}"""), Ct))
            patch.StatusCode.ShouldBe(HttpStatusCode.OK);
        var laTo = LocalDate(host.Clock.GetUtcNow().ToUnixTimeMilliseconds(), "America/Los_Angeles").ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var la = await rest.GetJson($"/api/v1/analytics/events/app_open?from=2026-11-01&to={laTo}");
        la.GetProperty("timezone").GetString().ShouldBe("America/Los_Angeles");
        ShouldMatchBruteForce(la, w.Events, "app_open", "America/Los_Angeles", "day");
    }

    // Sequential semantics by exhaustion: reached k if some t1 < ... < tk with tk − t1 ≤ window.
    private static int Furthest(List<long>[] steps, long window)
    {
        var best = 0;
        void Go(int k, long first, long last)
        {
            best = Math.Max(best, k);
            if (k == steps.Length) return;
            foreach (var t in steps[k])
                if (t > last && t - first <= window) Go(k + 1, first, t);
        }
        foreach (var t in steps[0]) Go(1, t, t);
        return best;
    }

    [Fact]
    public async Task Funnel_counts_and_exports_equal_brute_force()
    {
        var w = await GenerateAsync(20, 300, 11, ["a", "b", "c"], daysBack: 6);
        const long window = 2 * 86_400;
        var body = """{"steps":[{"event":"a"},{"event":"b"},{"event":"c"}],"windowSeconds":172800}""";
        var res = await w.App.Rest().PostOk("/api/v1/analytics/funnels", body);
        var furthest = w.Events.GroupBy(e => e.Device).ToDictionary(g => g.Key,
            g => Furthest(new[] { "a", "b", "c" }.Select(n => g.Where(e => e.Name == n).Select(e => e.At).Order().ToList()).ToArray(), window * 1000));
        var steps = res.GetProperty("steps").EnumerateArray().ToList();
        for (var k = 0; k < 3; k++)
            steps[k].GetProperty("count").GetInt64().ShouldBe(furthest.Values.Count(f => f >= k + 1), $"step {k + 1}");
        furthest.Values.Count(f => f >= 3).ShouldBeGreaterThan(0);

        using var csv = await w.App.Rest().PostAsync("/api/v1/analytics/funnels/export?step=2&outcome=dropped", Http.Json(body), Ct);
        csv.StatusCode.ShouldBe(HttpStatusCode.OK);
        var lines = (await csv.Content.ReadAsStringAsync(Ct)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        lines[0].TrimStart('\uFEFF').ShouldStartWith("device_ordinal,installation_id");
        lines.Skip(1).Select(l => l.Split(',')[1]).Order().ShouldBe(furthest.Where(f => f.Value == 2).Select(f => f.Key).Order());

        // Unique users per user funnel, and retention cohorts per local day.
        var byUser = await w.App.Rest().PostOk("/api/v1/analytics/funnels", body.Replace("}]", "}],\"by\":\"user\"", StringComparison.Ordinal));
        var userFurthest = w.Events.Where(e => e.User is not null).GroupBy(e => e.User!).Select(g =>
            Furthest(new[] { "a", "b", "c" }.Select(n => g.Where(e => e.Name == n).Select(e => e.At).Order().ToList()).ToArray(), window * 1000)).ToList();
        byUser.GetProperty("steps")[1].GetProperty("count").GetInt64().ShouldBe(userFurthest.Count(f => f >= 2));

        var ret = await w.App.Rest().GetJson("/api/v1/analytics/retention?cohortEvent=a&returnEvent=b&periods=3&from=2026-11-15&to=2026-11-25");
        var cohortOf = w.Events.Where(e => e.Name == "a" && LocalDate(e.At, "Europe/Istanbul") >= new DateOnly(2026, 11, 15))
            .GroupBy(e => e.Device).ToDictionary(g => g.Key, g => LocalDate(g.Min(e => e.At), "Europe/Istanbul"));
        foreach (var c in ret.GetProperty("cohorts").EnumerateArray())
        {
            var start = DateOnly.Parse(c.GetProperty("start").GetString()!, CultureInfo.InvariantCulture);
            var members = cohortOf.Where(kv => kv.Value == start).Select(kv => kv.Key).ToHashSet();
            c.GetProperty("size").GetInt32().ShouldBe(members.Count);
            c.GetProperty("returned")[0].GetInt32().ShouldBe(members.Count(m => w.Events.Any(e => e.Device == m && e.Name == "b" && LocalDate(e.At, "Europe/Istanbul") == start.AddDays(1))));
        }
    }

    [Fact]
    public async Task Bad_analytics_input_is_answered_with_problem_details()
    {
        var w = await GenerateAsync(3, 10, 3, ["a", "b"]);
        var rest = w.App.Rest();
        await (await rest.PostAsync("/api/v1/analytics/funnels", Http.Json("""{"steps":[{"event":"a"},{"event":"nope"}]}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "steps[1].event");
        var eleven = "{\"steps\":[" + string.Join(",", Enumerable.Repeat("{\"event\":\"a\"}", 11)) + "]}";
        var p = await (await rest.PostAsync("/api/v1/analytics/funnels", Http.Json(eleven), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "steps");
        p.GetProperty("limit").GetInt32().ShouldBe(10);
        await (await rest.PostAsync("/api/v1/analytics/funnels", Http.Json("""{"steps":[{"event":"a"},{"event":"b"}],"windowSeconds":0}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "windowSeconds");
        await (await rest.PostAsync("/api/v1/analytics/funnels", Http.Json("""{"steps":[{"event":"a"},{"event":"b","where":[{"attribute":"plan","op":"like"}]}]}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "steps[1].where[0].op");
        await (await rest.GetAsync("/api/v1/analytics/events/never", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
        await (await rest.GetAsync("/api/v1/analytics/events/a?interval=year", Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "interval");
        await (await rest.GetAsync("/api/v1/analytics/events/a?from=2026-12-01&to=2026-11-01", Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "from");
        // Another app's segment is not found, never forbidden.
        var other = await host.NewAppAsync();
        var seg = await rest.PostOk("/api/v1/segments/preview", """{"rules":{"device":"platform","op":"eq","value":"ios"}}""");
        seg.GetProperty("size").GetInt64().ShouldBe(w.Devices.Count(d => d.Platform == "ios"));
        using var created = await rest.PostAsync("/api/v1/segments", Http.Json("""{"name":"ios","rules":{"device":"platform","op":"eq","value":"ios"}}"""), Ct);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetInt64();
        await (await other.Rest().GetAsync($"/api/v1/segments/{id}", Ct)).ShouldBeProblem(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Segments_of_every_rule_type_equal_brute_force()
    {
        var w = await GenerateAsync(30, 300, 5, ["purchase", "view"], daysBack: 40);
        var rest = w.App.Rest();
        var now = host.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        var today = LocalDate(now, "Europe/Istanbul");
        (int Age, bool Vip, string City, string Joined)? U(Dev d) => d.User is null ? null : w.Users[d.User];
        IEnumerable<Ev> Of(Dev d, string name) => w.Events.Where(e => e.Device == d.Id && e.Name == name);
        bool Within(Ev e, int days) => LocalDate(e.At, "Europe/Istanbul") > today.AddDays(-days);
        var cases = new (string Rules, Func<Dev, bool> Expected)[]
        {
            ("""{"attribute":"age","op":"gt","value":40}""", d => U(d)?.Age > 40),
            ("""{"attribute":"age","op":"lt","value":30}""", d => U(d)?.Age < 30),
            ("""{"attribute":"city","op":"eq","value":"İstanbul"}""", d => U(d)?.City == "İstanbul"),
            ("""{"attribute":"city","op":"ne","value":"İstanbul"}""", d => U(d) is { } u && u.City != "İstanbul"),
            ("""{"attribute":"city","op":"in","value":["Ankara","İzmir"]}""", d => U(d)?.City is "Ankara" or "İzmir"),
            ("""{"attribute":"city","op":"contains","value":"mir"}""", d => U(d)?.City == "İzmir"),
            ("""{"attribute":"vip","op":"eq","value":true}""", d => U(d)?.Vip == true),
            ("""{"attribute":"age","op":"exists"}""", d => d.User is not null),
            ("""{"attribute":"joined","op":"before","value":"2026-06-01"}""", d => U(d) is { } u && string.CompareOrdinal(u.Joined, "2026-06-01") < 0),
            ("""{"attribute":"joined","op":"after","value":"2026-06-01"}""", d => U(d) is { } u && string.CompareOrdinal(u.Joined, "2026-06-01") > 0),
            ("""{"attribute":"joined","op":"withinLastDays","value":120}""", d => U(d) is { } u && DateTimeOffset.Parse(u.Joined + "T00:00:00Z", CultureInfo.InvariantCulture).ToUnixTimeMilliseconds() >= now - 120 * 86_400_000L),
            ("""{"device":"platform","op":"eq","value":"android"}""", d => d.Platform == "android"),
            ("""{"device":"pushEnabled","op":"eq","value":true}""", d => d.Push),
            ("""{"device":"appVersion","op":"gt","value":"1.9.0"}""", d => Version.Parse(d.Version) > new Version(1, 9, 0)),
            ("""{"device":"timezone","op":"eq","value":"Europe/Istanbul"}""", _ => true),
            ("""{"device":"lastSeen","op":"withinLastDays","value":1}""", _ => true),
            ("""{"event":"purchase"}""", d => Of(d, "purchase").Any()),
            ("""{"event":"purchase","did":false}""", d => !Of(d, "purchase").Any()),
            ("""{"event":"purchase","withinLastDays":7}""", d => Of(d, "purchase").Any(e => Within(e, 7))),
            ("""{"event":"purchase","atLeast":3}""", d => Of(d, "purchase").Count() >= 3),
            ("""{"event":"view","atMost":2}""", d => Of(d, "view").Count() is >= 1 and <= 2),
            ("""{"event":"purchase","where":[{"attribute":"plan","op":"eq","value":"pro"}],"atLeast":2,"withinLastDays":30}""", d => Of(d, "purchase").Count(e => e.Plan == "pro" && Within(e, 30)) >= 2),
            ($$"""{"event":"view","from":"{{today.AddDays(-20):yyyy-MM-dd}}","to":"{{today.AddDays(-10):yyyy-MM-dd}}"}""", d => Of(d, "view").Any(e => LocalDate(e.At, "Europe/Istanbul") >= today.AddDays(-20) && LocalDate(e.At, "Europe/Istanbul") <= today.AddDays(-10))),
            ("""{"and":[{"attribute":"age","op":"gt","value":25},{"event":"purchase"},{"not":{"event":"view","withinLastDays":3}}]}""", d => U(d)?.Age > 25 && Of(d, "purchase").Any() && !Of(d, "view").Any(e => Within(e, 3))),
            ("""{"or":[{"device":"platform","op":"eq","value":"ios"},{"attribute":"vip","op":"eq","value":true}]}""", d => d.Platform == "ios" || U(d)?.Vip == true),
        };
        foreach (var (rules, expected) in cases)
        {
            var size = (await rest.PostOk("/api/v1/segments/preview", $$"""{"rules":{{rules}}}""")).GetProperty("size").GetInt64();
            size.ShouldBe(w.Devices.Count(expected), rules);
        }

        // Membership of another segment, members paged by ordinal, and the CSV export.
        using var created = await rest.PostAsync("/api/v1/segments", Http.Json("""{"name":"Buyers over 25","rules":{"and":[{"attribute":"age","op":"gt","value":25},{"event":"purchase"}]}}"""), Ct);
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var baseId = JsonDocument.Parse(await created.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetInt64();
        var expectedMembers = w.Devices.Where(d => U(d)?.Age > 25 && Of(d, "purchase").Any() && d.Platform != "web").Select(d => d.Id).Order().ToList();
        using var nested = await rest.PostAsync("/api/v1/segments", Http.Json($$$"""{"name":"Buyers not on web","rules":{"and":[{"segment":{{{baseId}}}},{"not":{"device":"platform","op":"eq","value":"web"}}]}}"""), Ct);
        var nestedView = JsonDocument.Parse(await nested.Content.ReadAsStringAsync(Ct)).RootElement;
        nestedView.GetProperty("size").GetInt64().ShouldBe(expectedMembers.Count);
        var nestedId = nestedView.GetProperty("id").GetInt64();
        var seen = new List<string>();
        string? after = null;
        do
        {
            var page = await rest.GetJson($"/api/v1/segments/{nestedId}/members?limit=2{(after is null ? "" : "&after=" + after)}");
            seen.AddRange(page.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("installationId").GetString()!));
            after = page.GetProperty("next").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next").GetUInt32().ToString(CultureInfo.InvariantCulture);
        } while (after is not null);
        seen.Order().ShouldBe(expectedMembers);

        using var export = await rest.GetAsync($"/api/v1/segments/{nestedId}/export?attributes=city,age", Ct);
        export.Content.Headers.ContentType!.MediaType.ShouldBe("text/csv");
        var text = Encoding.UTF8.GetString(await export.Content.ReadAsByteArrayAsync(Ct)).TrimStart('\uFEFF');
        var lines = text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        lines[0].ShouldBe("device_ordinal,installation_id,external_id,platform,city,age");
        lines.Length.ShouldBe(expectedMembers.Count + 1);
        foreach (var l in lines.Skip(1))
        {
            var f = l.Split(',');
            var d = w.Devices.Single(x => x.Id == f[1]);
            f[4].ShouldBe(w.Users[d.User!].City);
        }
    }

    [Fact]
    public async Task Validation_errors_name_the_rule_path_and_cycles_are_refused()
    {
        var w = await GenerateAsync(2, 4, 9, ["purchase"]);
        var rest = w.App.Rest();
        var v = await rest.PostOk("/api/v1/segments/validate", """{"rules":{"and":[{"attribute":"age","op":"bigger","value":3},{"event":"no_such_event"},{"or":[{"device":"colour","op":"eq","value":"red"}]}]}}""");
        v.GetProperty("valid").GetBoolean().ShouldBeFalse();
        var paths = v.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("path").GetString()).ToList();
        paths.ShouldBe(["rules.and[0].op", "rules.and[2].or[0].device"]);
        var v2 = await rest.PostOk("/api/v1/segments/validate", """{"rules":{"and":[{"event":"purchase","atLeast":0},{"event":"no_such_event"}]}}""");
        v2.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("path").GetString()).ShouldBe(["rules.and[0].atLeast"]);
        var v3 = await rest.PostOk("/api/v1/segments/validate", """{"rules":{"and":[{"event":"purchase"},{"event":"no_such_event"}]}}""");
        v3.GetProperty("errors")[0].GetProperty("path").GetString().ShouldBe("rules.and[1].event");
        (await rest.PostOk("/api/v1/segments/validate", """{"rules":{"event":"purchase","withinLastDays":30}}""")).GetProperty("valid").GetBoolean().ShouldBeTrue();
        await (await rest.PostAsync("/api/v1/segments/preview", Http.Json("""{"rules":{"not":{"event":"nope"}}}"""), Ct)).ShouldBeProblem(HttpStatusCode.BadRequest, "rules.not.event");

        using var a = await rest.PostAsync("/api/v1/segments", Http.Json("""{"name":"A","rules":{"event":"purchase"}}"""), Ct);
        var aId = JsonDocument.Parse(await a.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetInt64();
        using var b = await rest.PostAsync("/api/v1/segments", Http.Json($$$"""{"name":"B","rules":{"segment":{{{aId}}}}}"""), Ct);
        var bId = JsonDocument.Parse(await b.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetInt64();
        using var cycle = await rest.PutAsync($"/api/v1/segments/{aId}", Http.Json($$$"""{"name":"A","rules":{"or":[{"event":"purchase"},{"segment":{{{bId}}}}]}}"""), Ct);
        await cycle.ShouldBeProblem(HttpStatusCode.BadRequest, "rules.or[1].segment");
    }

    [Fact]
    public async Task A_segment_unused_for_90_days_becomes_inactive_even_when_a_campaign_still_refers_to_it()
    {
        var w = await GenerateAsync(2, 4, 13, ["purchase"]);
        var rest = w.App.Rest();
        var segments = host.Services.GetRequiredService<SegmentService>();
        using var created = await rest.PostAsync("/api/v1/segments", Http.Json("""{"name":"Buyers","rules":{"event":"purchase"}}"""), Ct);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetInt64();
        var start = host.Clock.GetUtcNow();
        try
        {
            host.Clock.Advance(TimeSpan.FromDays(89));
            await segments.SweepInactiveAsync(Ct);
            (await rest.GetJson($"/api/v1/segments/{id}")).GetProperty("active").GetBoolean().ShouldBeTrue();
            await segments.MarkUsedAsync(w.App.Id, id, Ct);
            host.Clock.Advance(TimeSpan.FromDays(89));
            await segments.SweepInactiveAsync(Ct);
            (await rest.GetJson($"/api/v1/segments/{id}")).GetProperty("active").GetBoolean().ShouldBeTrue();
            host.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));
            await segments.SweepInactiveAsync(Ct);
            var list = await rest.GetJson("/api/v1/segments");
            list.EnumerateArray().Single(s => s.GetProperty("id").GetInt64() == id).GetProperty("active").GetBoolean().ShouldBeFalse();
            await segments.MarkUsedAsync(w.App.Id, id, Ct);
            (await rest.GetJson($"/api/v1/segments/{id}")).GetProperty("active").GetBoolean().ShouldBeTrue();
        }
        finally
        {
            host.Clock.Set(start);
        }
    }

    [Fact]
    public async Task A_realtime_segment_publishes_entered_and_left_as_events_arrive()
    {
        var app = await host.NewAppAsync();
        var rest = app.Rest();
        var dev = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"android"}""")).GetProperty("installationId").GetString()!;
        var other = (await app.Sdk().PostOk("/sdk/v1/devices", """{"platform":"ios"}""")).GetProperty("installationId").GetString()!;
        var at = host.Clock.GetUtcNow().ToUnixTimeMilliseconds() - 60_000;
        async Task Send(string device, string name, int n) =>
            await app.Sdk().PostOk("/sdk/v1/events", $$"""{"installationId":"{{device}}","events":[{"messageId":"{{Guid.NewGuid()}}","name":"{{name}}","timestamp":{{at + n}}}]}""");
        await Send(other, "purchase", 0);
        await Send(other, "refund", 1);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var feed = host.Services.GetRequiredService<SegmentChangeFeed>().Subscribe(cts.Token);
        using var created = await rest.PostAsync("/api/v1/segments", Http.Json("""{"name":"Repeat buyers","realtime":true,"rules":{"and":[{"event":"purchase","atLeast":2},{"not":{"event":"refund"}}]}}"""), Ct);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetInt64();

        await Send(dev, "purchase", 2);
        feed.TryRead(out _).ShouldBeFalse();
        await Send(dev, "purchase", 3);
        // The ingest answer comes after commit; observers run before the writer takes the next group,
        // so the change is there once a later request has been answered.
        await Send(other, "noise", 4);
        var entered = await feed.ReadAsync(Ct);
        entered.Entered.ShouldBeTrue();
        entered.SegmentId.ShouldBe(id);
        (await rest.GetJson($"/api/v1/segments/{id}")).GetProperty("size").GetInt64().ShouldBe(1);

        await Send(dev, "refund", 5);
        var left = await feed.ReadAsync(Ct);
        left.Entered.ShouldBeFalse();
        left.DeviceOrdinal.ShouldBe(entered.DeviceOrdinal);

        var changes = await rest.GetJson($"/api/v1/segments/{id}/changes");
        changes.EnumerateArray().Select(c => c.GetProperty("entered").GetBoolean()).ShouldBe([true, false]);
        (await rest.GetJson($"/api/v1/segments/{id}/changes?after={changes[0].GetProperty("id").GetInt64()}")).GetArrayLength().ShouldBe(1);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class AnalyticsTestsSqlite(SqliteHost host) : AnalyticsTests(host);

[Collection(PostgresCollection.Name)]
public sealed class AnalyticsTestsPostgres(PostgresHost host) : AnalyticsTests(host);
