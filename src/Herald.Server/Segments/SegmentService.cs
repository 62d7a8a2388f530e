using System.Data.Common;
using System.Text.Json;
using Dapper;
using Herald.Domain.Analytics;
using Herald.Server.Analytics;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Segments;

public sealed partial class SegmentService(Db db, SegmentEvaluator evaluator, Geofences.GeofenceService geofences, Predictions.PredictionService predictions, RollupStore rollups, MemberDirectory directory,
    TimeProvider clock, IOptions<AnalyticsOptions> options, ILogger<SegmentService> logger)
{
    public const int MaxNameLength = 200;
    public const int MaxPageSize = 1000;

    internal sealed class SegmentRow
    {
        public long Id { get; set; }
        public string Name { get; set; } = "";
        public string Rules { get; set; } = "";
        public bool Realtime { get; set; }
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }
        public long LastUsedAt { get; set; }
        public long? InactiveSince { get; set; }
    }

    private const string Columns = "id, name, rules, realtime, created_at AS CreatedAt, updated_at AS UpdatedAt, last_used_at AS LastUsedAt, inactive_since AS InactiveSince";

    /// <summary>Parses and checks a rule tree against the app: events it names exist, referenced segments exist and make no cycle.</summary>
    public async Task<(Rule? Rule, List<RuleError> Errors)> ValidateAsync(long appId, JsonElement? rules, long? selfId, CancellationToken ct)
    {
        var errors = new List<RuleError>();
        if (rules is null || rules.Value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            errors.Add(new("rules", "rules is required"));
            return (null, errors);
        }
        var rule = SegmentRules.Parse(rules.Value, errors);
        if (rule is null || errors.Count > 0) return (null, errors);
        foreach (var node in SegmentRules.Walk(rule))
        {
            if (node is EventRule e && await rollups.TotalCountAsync(appId, e.Event, ct) is null)
                errors.Add(new($"{e.Path}.event", $"no event named '{e.Event}' was ever recorded for this app"));
            if (node is GeofenceRule g && !await geofences.ExistsAsync(appId, g.FenceId, g.GroupId, ct))
                errors.Add(new(g.FenceId is null ? $"{g.Path}.geofence.group" : $"{g.Path}.geofence.id",
                    g.FenceId is { } f ? $"geofence {f} does not exist" : $"geofence group {g.GroupId} does not exist"));
            if (node is PredictedRule pr && !await predictions.HasScoresAsync(appId, pr.Model, ct))
                errors.Add(new($"{pr.Path}.predicted.model", $"the {pr.Model} model has no scores yet; train it with POST /api/v1/predictions/{pr.Model}/train"));
            if (node is SegmentRefRule s)
            {
                if (s.SegmentId == selfId) errors.Add(new($"{s.Path}.segment", "a segment cannot contain itself"));
                else if (await FindRowAsync(appId, s.SegmentId, ct) is null) errors.Add(new($"{s.Path}.segment", $"segment {s.SegmentId} does not exist"));
                else if (selfId is { } self && await ReachesAsync(appId, s.SegmentId, self, ct))
                    errors.Add(new($"{s.Path}.segment", $"segment {s.SegmentId} refers back to this segment; membership must not make a cycle"));
            }
        }
        return (errors.Count == 0 ? rule : null, errors);
    }

    private async Task<bool> ReachesAsync(long appId, long from, long target, CancellationToken ct)
    {
        var seen = new HashSet<long>();
        var stack = new Stack<long>([from]);
        while (stack.TryPop(out var id))
        {
            if (id == target) return true;
            if (!seen.Add(id)) continue;
            if (await LoadRuleAsync(appId, id, ct) is { } r)
                foreach (var child in SegmentRules.Walk(r).OfType<SegmentRefRule>()) stack.Push(child.SegmentId);
        }
        return false;
    }

    private async Task<Rule> RequireValidAsync(long appId, JsonElement? rules, long? selfId, CancellationToken ct)
    {
        var (rule, errors) = await ValidateAsync(appId, rules, selfId, ct);
        if (rule is not null) return rule;
        var p = ProblemException.BadRequest($"{errors[0].Path}: {errors[0].Detail}.", errors[0].Path);
        p.Extensions["errors"] = errors;
        throw p;
    }

    private static string RequireName(string? name) =>
        string.IsNullOrWhiteSpace(name) ? throw ProblemException.BadRequest("name is required.", "name")
        : name.Length > MaxNameLength ? throw ProblemException.BadRequest($"name is {name.Length} characters; the limit is {MaxNameLength}.", "name", MaxNameLength)
        : name.Trim();

    public async Task<SegmentView> CreateAsync(long appId, SegmentRequest request, CancellationToken ct)
    {
        var name = RequireName(request.Name);
        var rule = await RequireValidAsync(appId, request.Rules, null, ct);
        var now = Now;
        var members = await evaluator.EvaluateAsync(appId, rule, Loader(appId), ct);
        await using var conn = await db.OpenAsync(ct);
        var id = await conn.ExecuteScalarAsync<long>(
            """
            INSERT INTO segments (app_id, name, rules, realtime, members, created_at, updated_at, last_used_at)
            VALUES (@appId, @name, @rules, @realtime, @members, @now, @now, @now) RETURNING id
            """, new { appId, name, rules = request.Rules!.Value.GetRawText(), realtime = request.Realtime, members = request.Realtime ? members.Serialize() : null, now });
        return (await GetAsync(appId, id, ct))!;
    }

    public async Task<SegmentView> UpdateAsync(long appId, long id, SegmentRequest request, CancellationToken ct)
    {
        _ = await FindRowAsync(appId, id, ct) ?? throw ProblemException.NotFound($"Segment {id}");
        var name = RequireName(request.Name);
        var rule = await RequireValidAsync(appId, request.Rules, id, ct);
        var members = await evaluator.EvaluateAsync(appId, rule, Loader(appId), ct);
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync(
            "UPDATE segments SET name = @name, rules = @rules, realtime = @realtime, members = @members, updated_at = @now WHERE app_id = @appId AND id = @id",
            new { appId, id, name, rules = request.Rules!.Value.GetRawText(), realtime = request.Realtime, members = request.Realtime ? members.Serialize() : null, now = Now });
        return (await GetAsync(appId, id, ct))!;
    }

    public async Task<SegmentView?> GetAsync(long appId, long id, CancellationToken ct)
    {
        var row = await FindRowAsync(appId, id, ct);
        return row is null ? null : await ViewAsync(appId, row, ct);
    }

    public async Task<IReadOnlyList<SegmentView>> ListAsync(long appId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var rows = (await conn.QueryAsync<SegmentRow>($"SELECT {Columns} FROM segments WHERE app_id = @appId ORDER BY id", new { appId })).ToList();
        var views = new List<SegmentView>();
        foreach (var r in rows) views.Add(await ViewAsync(appId, r, ct));
        return views;
    }

    private async Task<SegmentView> ViewAsync(long appId, SegmentRow row, CancellationToken ct)
    {
        var members = await MembersOfAsync(appId, row, ct);
        using var doc = JsonDocument.Parse(row.Rules);
        return new SegmentView(row.Id, row.Name, doc.RootElement.Clone(), row.Realtime, members.Cardinality, row.InactiveSince is null,
            row.CreatedAt, row.UpdatedAt, row.LastUsedAt, row.InactiveSince);
    }

    public async Task<long> PreviewAsync(long appId, JsonElement? rules, CancellationToken ct)
    {
        var rule = await RequireValidAsync(appId, rules, null, ct);
        return (await evaluator.EvaluateAsync(appId, rule, Loader(appId), ct)).Cardinality;
    }

    /// <summary>The segment's current members: evaluated now (real-time ones as well, so time windows move on).</summary>
    public async Task<RoaringBitmap> MembersAsync(long appId, long id, CancellationToken ct)
    {
        var row = await FindRowAsync(appId, id, ct) ?? throw ProblemException.NotFound($"Segment {id}");
        return await MembersOfAsync(appId, row, ct);
    }

    private async Task<RoaringBitmap> MembersOfAsync(long appId, SegmentRow row, CancellationToken ct)
    {
        var rule = Parse(row.Rules);
        return await evaluator.EvaluateAsync(appId, rule, Loader(appId), ct);
    }

    public async Task<MembersPage> PageAsync(long appId, long id, uint? after, int limit, CancellationToken ct)
    {
        if (limit is < 1 or > MaxPageSize) throw ProblemException.BadRequest($"limit must be 1 to {MaxPageSize}; got {limit}.", "limit", MaxPageSize);
        var members = await MembersAsync(appId, id, ct);
        var start = after is { } a ? members.Rank(a) : 0;
        var picked = new List<uint>();
        for (var i = start; i < members.Cardinality && picked.Count < limit + 1; i++) picked.Add(members.Select(i));
        var more = picked.Count > limit;
        if (more) picked.RemoveAt(picked.Count - 1);
        var views = picked.Count == 0 ? [] : await directory.DevicesAsync(appId, RoaringBitmap.FromSorted(picked.ToArray()), picked[0], picked[^1], ct);
        return new MembersPage(views, more ? picked[^1] : null);
    }

    public async Task<bool> GetRowExistsAsync(long appId, long id, CancellationToken ct) =>
        await FindRowAsync(appId, id, ct) is not null ? true : throw ProblemException.NotFound($"Segment {id}");

    /// <summary>A send targeted the segment: it stays (or becomes again) active for another 90 days.</summary>
    public async Task MarkUsedAsync(long appId, long segmentId, CancellationToken ct = default)
    {
        await using var conn = await db.OpenAsync(ct);
        var n = await conn.ExecuteAsync("UPDATE segments SET last_used_at = @now, inactive_since = NULL WHERE app_id = @appId AND id = @segmentId",
            new { appId, segmentId, now = Now });
        if (n == 0) throw ProblemException.NotFound($"Segment {segmentId}");
    }

    /// <summary>
    /// Marks inactive every segment not used to target a send for <see cref="AnalyticsOptions.SegmentInactiveAfter"/>
    /// (R-SEG-4) — whether or not a campaign still refers to it. Answers how many changed.
    /// </summary>
    public async Task<int> SweepInactiveAsync(CancellationToken ct = default)
    {
        var now = Now;
        var cutoff = now - (long)options.Value.SegmentInactiveAfter.TotalMilliseconds;
        await using var conn = await db.OpenAsync(ct);
        var n = await conn.ExecuteAsync("UPDATE segments SET inactive_since = @now WHERE inactive_since IS NULL AND last_used_at <= @cutoff", new { now, cutoff });
        if (n > 0) LogInactive(logger, n);
        return n;
    }

    /// <summary>The realtime segments of an app with their stored membership (for the real-time observer).</summary>
    internal async Task<List<(long Id, Rule Rule)>> RealtimeAsync(long appId, DbConnection conn)
    {
        var rows = await conn.QueryAsync<SegmentRow>($"SELECT {Columns} FROM segments WHERE app_id = @appId AND realtime = @yes", new { appId, yes = true });
        return rows.Select(r => (r.Id, Parse(r.Rules))).ToList();
    }

    internal SegmentEvaluator.RuleLoader Loader(long appId) => (id, ct) => LoadRuleAsync(appId, id, ct);

    private async Task<Rule?> LoadRuleAsync(long appId, long id, CancellationToken ct) =>
        await FindRowAsync(appId, id, ct) is { } row ? Parse(row.Rules) : null;

    private async Task<SegmentRow?> FindRowAsync(long appId, long id, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        return await conn.QueryFirstOrDefaultAsync<SegmentRow>($"SELECT {Columns} FROM segments WHERE app_id = @appId AND id = @id", new { appId, id });
    }

    private static Rule Parse(string rules)
    {
        using var doc = JsonDocument.Parse(rules);
        var errors = new List<RuleError>();
        return SegmentRules.Parse(doc.RootElement.Clone(), errors) ?? throw new InvalidDataException($"Stored segment rules no longer parse: {errors[0].Path} {errors[0].Detail}");
    }

    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} segments not used for a send in the inactivity period are now inactive")]
    private static partial void LogInactive(ILogger logger, int count);
}
