using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Herald.Server.Analytics;
using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Herald.Server.Segments;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Exports;

/// <summary>
/// Exports (R-AN-5): raw events as CSV on demand, and scheduled daily exports — yesterday's events or
/// a segment's members written once a day at a local time into a folder under the operator's export
/// root (each app only under its own <c>app-{id}</c> folder). A run is claimed with a lease, so two
/// nodes never write the same export at once; the file appears whole (written aside, then moved).
/// </summary>
public sealed partial class ExportService(Db db, AppService apps, AnalyticsService analytics, SegmentService segments, MemberDirectory directory,
    EventExport events, IOptions<ExportOptions> options, IOptions<StorageOptions> storage, TimeProvider clock)
{
    public const int MaxName = 200, MaxFolder = 200, MaxNames = 50, MaxPerApp = 100, MaxDays = 366;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private ExportOptions O => options.Value;

    /// <summary>The folder every scheduled export is written under.</summary>
    public string Root => Path.GetFullPath(O.Root ?? Path.Combine(storage.Value.DataDirectory, "exports"));

    // ---- on demand

    /// <summary>
    /// Checks an on-demand events export — two local dates (inclusive) and optional names — and
    /// answers the time range and names to write; problems come before the first byte of CSV.
    /// </summary>
    public async Task<(long From, long To, IReadOnlyList<string> Names)> EventsRangeAsync(long appId, string? from, string? to, string? names, CancellationToken ct)
    {
        var days = await DaysAsync(appId, ct);
        var first = LocalDays.DayOf(LocalDays.ParseDate(from ?? throw ProblemException.BadRequest("from is required (YYYY-MM-DD, the app's timezone).", "from"), "from"));
        var last = LocalDays.DayOf(LocalDays.ParseDate(to ?? from, "to"));
        if (last < first) throw ProblemException.BadRequest("to is before from.", "to");
        if (last - first + 1 > MaxDays) throw ProblemException.BadRequest($"An export covers at most {MaxDays} days; got {last - first + 1}.", "to", MaxDays);
        var list = await NamesAsync(appId, names?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList(), "names", ct);
        return (days.StartOf(first), days.StartOf(last + 1), list);
    }

    /// <summary>Exactly the names asked for (each must have been recorded), or every recorded name.</summary>
    private async Task<IReadOnlyList<string>> NamesAsync(long appId, List<string>? asked, string field, CancellationToken ct)
    {
        var known = await analytics.EventNamesAsync(appId, ct);
        if (asked is not { Count: > 0 }) return known;
        if (asked.Count > MaxNames) throw ProblemException.BadRequest($"{field} names {asked.Count} events; at most {MaxNames}.", field, MaxNames);
        foreach (var (n, i) in asked.Select((n, i) => (n, i)))
            if (!known.Contains(n)) throw ProblemException.BadRequest($"{field}[{i}]: no event named '{n}' was ever recorded for this app.", $"{field}[{i}]");
        return [.. asked.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    private async Task<LocalDays> DaysAsync(long appId, CancellationToken ct) =>
        LocalDays.For((await apps.GetAsync(appId, ct) ?? throw ProblemException.NotFound($"App {appId}")).Timezone);

    // ---- scheduled

    private sealed class Row
    {
        public long AppId { get; init; }
        public long Id { get; init; }
        public string Name { get; init; } = "";
        public string Definition { get; init; } = "{}";
        public bool Active { get; init; }
        public long NextRunAt { get; init; }
        public long? LastRunAt { get; init; }
        public string? LastStatus { get; init; }
        public string? LastFile { get; init; }
        public long? LastRows { get; init; }
        public string? LastError { get; init; }
        public long CreatedAt { get; init; }
        public long UpdatedAt { get; init; }
    }

    private const string Columns = """
        app_id AS AppId, id AS Id, name AS Name, definition AS Definition, active AS Active, next_run_at AS NextRunAt, last_run_at AS LastRunAt,
        last_status AS LastStatus, last_file AS LastFile, last_rows AS LastRows, last_error AS LastError, created_at AS CreatedAt, updated_at AS UpdatedAt
        """;

    public async Task<ScheduledExportView> CreateAsync(long appId, ScheduledExportRequest request, CancellationToken ct)
    {
        var (name, d) = await ValidateAsync(appId, request, ct);
        var now = clock.GetUtcNow();
        var next = NextRun(d.TimeOfDay!, (await DaysAsync(appId, ct)).Zone, now);
        long id;
        await using (var conn = await db.OpenAsync(ct))
        {
            if (await conn.ExecuteScalarAsync<long>("SELECT count(*) FROM scheduled_exports WHERE app_id = @appId", new { appId }) >= MaxPerApp)
                throw ProblemException.Unprocessable($"An app has at most {MaxPerApp} scheduled exports.", "name", MaxPerApp);
            id = await conn.ExecuteScalarAsync<long>(
                """
                INSERT INTO scheduled_exports (app_id, name, definition, active, next_run_at, created_at, updated_at)
                VALUES (@appId, @name, @definition, @active, @next, @now, @now) RETURNING id
                """, new { appId, name, definition = JsonSerializer.Serialize(d, Json), active = request.Active, next, now = now.ToUnixTimeMilliseconds() });
        }
        return await GetAsync(appId, id, ct);
    }

    public async Task<ScheduledExportView> UpdateAsync(long appId, long id, ScheduledExportRequest request, CancellationToken ct)
    {
        var (name, d) = await ValidateAsync(appId, request, ct);
        var now = clock.GetUtcNow();
        var next = NextRun(d.TimeOfDay!, (await DaysAsync(appId, ct)).Zone, now);
        await using (var conn = await db.OpenAsync(ct))
            if (await conn.ExecuteAsync(
                    "UPDATE scheduled_exports SET name = @name, definition = @definition, active = @active, next_run_at = @next, updated_at = @now WHERE app_id = @appId AND id = @id",
                    new { appId, id, name, definition = JsonSerializer.Serialize(d, Json), active = request.Active, next, now = now.ToUnixTimeMilliseconds() }) == 0)
                throw ProblemException.NotFound($"Scheduled export {id}");
        return await GetAsync(appId, id, ct);
    }

    public async Task DeleteAsync(long appId, long id, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        if (await conn.ExecuteAsync("DELETE FROM scheduled_exports WHERE app_id = @appId AND id = @id", new { appId, id }) == 0)
            throw ProblemException.NotFound($"Scheduled export {id}");
    }

    public async Task<ScheduledExportView> GetAsync(long appId, long id, CancellationToken ct) =>
        (await ListAsync(appId, ct, id)).SingleOrDefault() ?? throw ProblemException.NotFound($"Scheduled export {id}");

    public async Task<IReadOnlyList<ScheduledExportView>> ListAsync(long appId, CancellationToken ct, long? id = null)
    {
        var zone = (await DaysAsync(appId, ct)).Zone.Id;
        await using var conn = await db.OpenAsync(ct);
        var rows = await conn.QueryAsync<Row>($"SELECT {Columns} FROM scheduled_exports WHERE app_id = @appId{(id is null ? "" : " AND id = @id")} ORDER BY id", new { appId, id });
        return [.. rows.Select(r => View(r, zone))];
    }

    private static ScheduledExportView View(Row r, string zone)
    {
        var d = JsonSerializer.Deserialize<ScheduledExportRequest>(r.Definition, Json)!;
        return new(r.Id, r.Name, r.Active, d.Kind!, d.SegmentId, d.Attributes ?? [], d.Events ?? [], d.Folder ?? "", d.TimeOfDay!, zone,
            r.NextRunAt, r.LastRunAt, r.LastStatus, r.LastFile, r.LastRows, r.LastError, r.CreatedAt, r.UpdatedAt);
    }

    private async Task<(string Name, ScheduledExportRequest Definition)> ValidateAsync(long appId, ScheduledExportRequest r, CancellationToken ct)
    {
        var name = r.Name?.Trim();
        if (string.IsNullOrEmpty(name)) throw ProblemException.BadRequest("name is required.", "name");
        if (name.Length > MaxName) throw ProblemException.BadRequest($"name is {name.Length} characters; at most {MaxName}.", "name", MaxName);
        if (r.Kind is not ("events" or "segment")) throw ProblemException.BadRequest($"kind must be 'events' or 'segment'; got '{r.Kind}'.", "kind");
        var time = r.TimeOfDay ?? "02:00";
        if (!TimeOnly.TryParseExact(time, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
            throw ProblemException.BadRequest($"timeOfDay must be HH:mm (the app's timezone); got '{time}'.", "timeOfDay");
        var folder = (r.Folder ?? "").Trim().Trim('/');
        if (folder.Length > MaxFolder) throw ProblemException.BadRequest($"folder is {folder.Length} characters; at most {MaxFolder}.", "folder", MaxFolder);
        if (folder.Length > 0 && folder.Split('/').Any(part => part is "." or ".." || !FolderPart().IsMatch(part)))
            throw ProblemException.BadRequest("folder must be a relative path of letters, digits, '.', '-' and '_' separated by '/' (no '..'): it is created under the app's export folder.", "folder");
        List<string>? attributes = null, eventNames = null;
        if (r.Kind == "segment")
        {
            if (r.SegmentId is not { } sid) throw ProblemException.BadRequest("segmentId is required for a segment export.", "segmentId");
            if (await segments.GetAsync(appId, sid, ct) is null) throw ProblemException.BadRequest($"segmentId {sid} is not a segment of this app.", "segmentId");
            attributes = [.. AnalyticsEndpoints.ParseAttributes(string.Join(',', r.Attributes ?? []))];
            if (r.Events is { Count: > 0 }) throw ProblemException.BadRequest("events belongs to an events export.", "events");
        }
        else
        {
            if (r.SegmentId is not null || r.Attributes is { Count: > 0 }) throw ProblemException.BadRequest("segmentId and attributes belong to a segment export.", r.SegmentId is not null ? "segmentId" : "attributes");
            if (r.Events is { Count: > 0 } e) eventNames = [.. await NamesAsync(appId, e, "events", ct)];
        }
        return (name, new ScheduledExportRequest { Kind = r.Kind, SegmentId = r.SegmentId, Attributes = attributes, Events = eventNames, Folder = folder, TimeOfDay = time });
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex FolderPart();

    /// <summary>The first <paramref name="time"/> (HH:mm, local) after <paramref name="after"/>; a time a DST change skips moves to the first valid minute.</summary>
    public static long NextRun(string time, TimeZoneInfo zone, DateTimeOffset after)
    {
        var t = TimeOnly.ParseExact(time, "HH:mm", CultureInfo.InvariantCulture);
        var localNow = TimeZoneInfo.ConvertTime(after, zone);
        for (var day = DateOnly.FromDateTime(localNow.DateTime); ; day = day.AddDays(1))
        {
            var local = day.ToDateTime(t);
            while (zone.IsInvalidTime(local)) local = local.AddMinutes(1);
            var at = new DateTimeOffset(local, zone.GetUtcOffset(local));
            if (at > after) return at.ToUnixTimeMilliseconds();
        }
    }

    /// <summary>Runs one export now (REST "run now", or the worker when it is due); 409 while another run holds it.</summary>
    public async Task<ExportRun> RunNowAsync(long appId, long id, CancellationToken ct)
    {
        await GetAsync(appId, id, ct);
        return await TryRunAsync(appId, id, dueOnly: false, ct) ?? throw new ProblemException(StatusCodes.Status409Conflict, "Export running",
            $"Scheduled export {id} is being written right now; try again when it is done.", "id");
    }

    /// <summary>Claims and runs every due export of every app (one worker pass); returns how many ran.</summary>
    public async Task<int> RunDueAsync(CancellationToken ct)
    {
        List<(long AppId, long Id)> due;
        await using (var conn = await db.OpenAsync(ct))
            due = [.. await conn.QueryAsync<(long, long)>(
                $"SELECT app_id, id FROM scheduled_exports WHERE active = @yes AND next_run_at <= @now AND (lease_until IS NULL OR lease_until < @now) ORDER BY next_run_at LIMIT 20",
                new { yes = true, now = clock.GetUtcNow().ToUnixTimeMilliseconds() })];
        var ran = 0;
        foreach (var (appId, id) in due)
            if (await TryRunAsync(appId, id, dueOnly: true, ct) is not null) ran++;
        return ran;
    }

    private async Task<ExportRun?> TryRunAsync(long appId, long id, bool dueOnly, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        Row? row;
        await using (var conn = await db.OpenAsync(ct))
        {
            // The claim: one node's UPDATE wins the row; the others see 0 rows and move on.
            if (await conn.ExecuteAsync(
                    $"""
                    UPDATE scheduled_exports SET lease_until = @lease
                    WHERE app_id = @appId AND id = @id AND (lease_until IS NULL OR lease_until < @now){(dueOnly ? " AND active = @yes AND next_run_at <= @now" : "")}
                    """, new { appId, id, yes = true, now = now.ToUnixTimeMilliseconds(), lease = (now + O.Lease).ToUnixTimeMilliseconds() }) == 0)
                return null;
            row = await conn.QueryFirstOrDefaultAsync<Row>($"SELECT {Columns} FROM scheduled_exports WHERE app_id = @appId AND id = @id", new { appId, id });
        }
        if (row is null) return null;
        var days = await DaysAsync(appId, ct);
        var d = JsonSerializer.Deserialize<ScheduledExportRequest>(row.Definition, Json)!;
        ExportRun run;
        try
        {
            var (file, rows) = await WriteAsync(appId, row.Name, d, days, ct);
            run = new ExportRun("ok", file, rows, null, now.ToUnixTimeMilliseconds());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ProblemException)
        {
            run = new ExportRun("failed", null, 0, e.Message, now.ToUnixTimeMilliseconds());
        }
        var scheduled = NextRun(d.TimeOfDay!, days.Zone, now);
        var next = run.Status == "ok" || !dueOnly ? scheduled : Math.Min(scheduled, (now + O.RetryAfter).ToUnixTimeMilliseconds());
        await using (var conn = await db.OpenAsync(CancellationToken.None))
            await conn.ExecuteAsync(
                $"""
                UPDATE scheduled_exports SET lease_until = NULL, last_run_at = @At, last_status = @Status, last_file = @File, last_rows = @Rows, last_error = @Error
                    {(dueOnly ? ", next_run_at = @next" : "")}
                WHERE app_id = @appId AND id = @id
                """, new { appId, id, run.At, run.Status, run.File, run.Rows, run.Error, next });
        return run;
    }

    /// <summary>Writes the file for today's run: events of the previous local day, or the segment's members now.</summary>
    private async Task<(string File, long Rows)> WriteAsync(long appId, string name, ScheduledExportRequest d, LocalDays days, CancellationToken ct)
    {
        var today = days.Today(clock);
        var day = d.Kind == "events" ? today - 1 : today;
        var folder = Path.Combine(Root, $"app-{appId}", (d.Folder ?? "").Replace('/', Path.DirectorySeparatorChar));
        if (!Path.GetFullPath(folder).StartsWith(Root, StringComparison.Ordinal)) throw new UnauthorizedAccessException("The folder leaves the export root.");
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, $"{Slug(name)}-{LocalDays.DateOf(day):yyyy-MM-dd}.csv");
        var partial = file + ".partial";
        long rows;
        await using (var output = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
        {
            if (d.Kind == "events")
            {
                var names = d.Events is { Count: > 0 } e ? e : await analytics.EventNamesAsync(appId, ct);
                rows = await events.WriteCsvAsync(appId, days.StartOf(day), days.StartOf(day + 1), names, output, ct);
            }
            else
            {
                var members = await segments.MembersAsync(appId, d.SegmentId!.Value, ct);
                await directory.WriteDevicesCsvAsync(appId, members, d.Attributes ?? [], output, ct);
                rows = members.Cardinality;
            }
            await output.FlushAsync(ct);
            output.Flush(flushToDisk: true);
        }
        File.Move(partial, file, overwrite: true);
        return (Path.GetRelativePath(Root, file).Replace(Path.DirectorySeparatorChar, '/'), rows);
    }

    private static string Slug(string name)
    {
        var s = new string([.. name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]).Trim('-');
        while (s.Contains("--", StringComparison.Ordinal)) s = s.Replace("--", "-", StringComparison.Ordinal);
        return s.Length == 0 ? "export" : s[..Math.Min(s.Length, 80)];
    }
}
