using System.Text.Json;
using Dapper;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.WebSdk;

/// <summary>
/// The opt-in prompt ("fancy box") the web SDK shows before the browser's own permission request:
/// a browser asks only once, so the site asks first and calls the browser only for a "yes".
/// </summary>
public sealed record OptInPrompt
{
    public bool Enabled { get; init; } = true;
    public string Title { get; init; } = "Get notified";
    public string Text { get; init; } = "We'll send you news and offers. You can turn this off at any time.";
    public string AcceptText { get; init; } = "Allow";
    public string LaterText { get; init; } = "Later";
    /// <summary>Seconds after the page loads before the prompt shows.</summary>
    public int DelaySeconds { get; init; } = 3;
    /// <summary>After "later", the prompt stays away this many days.</summary>
    public int LaterDays { get; init; } = 7;
}

public sealed record WebSdkSettingsView(OptInPrompt OptInPrompt);

public sealed record WebSdkSettingsRequest(OptInPrompt? OptInPrompt);

/// <summary>What the web SDK reads at start: the key to subscribe with and how to ask.</summary>
public sealed record SdkConfig(string VapidPublicKey, OptInPrompt OptInPrompt);

public sealed class WebSdkSettings(Db db, TimeProvider clock)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<WebSdkSettingsView> GetAsync(long appId, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        var json = await conn.QueryFirstOrDefaultAsync<string?>("SELECT settings FROM web_sdk_settings WHERE app_id = @appId", new { appId });
        return json is null ? new WebSdkSettingsView(new OptInPrompt()) : JsonSerializer.Deserialize<WebSdkSettingsView>(json, Json)!;
    }

    public async Task<WebSdkSettingsView> PutAsync(long appId, WebSdkSettingsRequest request, CancellationToken ct)
    {
        var p = request.OptInPrompt ?? new OptInPrompt();
        Text(p.Title, "optInPrompt.title", 120);
        Text(p.Text, "optInPrompt.text", 500);
        Text(p.AcceptText, "optInPrompt.acceptText", 40);
        Text(p.LaterText, "optInPrompt.laterText", 40);
        if (p.DelaySeconds is < 0 or > 600)
            throw ProblemException.BadRequest($"optInPrompt.delaySeconds must be 0-600; got {p.DelaySeconds}.", "optInPrompt.delaySeconds", 600);
        if (p.LaterDays is < 1 or > 365)
            throw ProblemException.BadRequest($"optInPrompt.laterDays must be 1-365; got {p.LaterDays}.", "optInPrompt.laterDays", 365);
        var view = new WebSdkSettingsView(p);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync(
            """
            INSERT INTO web_sdk_settings (app_id, settings, updated_at) VALUES (@appId, @settings, @now)
            ON CONFLICT (app_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
            """, new { appId, settings = JsonSerializer.Serialize(view, Json), now });
        return view;
    }

    public async Task<SdkConfig> ConfigAsync(long appId, CancellationToken ct)
    {
        string vapid;
        await using (var conn = await db.OpenAsync(ct))
            vapid = await conn.QuerySingleAsync<string>("SELECT vapid_public_key FROM apps WHERE id = @appId", new { appId });
        return new SdkConfig(vapid, (await GetAsync(appId, ct)).OptInPrompt);
    }

    private static void Text(string? value, string field, int max)
    {
        if (string.IsNullOrWhiteSpace(value)) throw ProblemException.BadRequest($"{field} is required.", field);
        if (value.Length > max) throw ProblemException.BadRequest($"{field} is {value.Length} characters; the limit is {max}.", field, max);
    }
}
