using System.Globalization;
using System.Text.Json;
using Herald.Server.Accounts;
using Herald.Server.Apps;
using Herald.Server.Infrastructure;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>App settings, limits, channel credentials (write-only) and API keys — all through <see cref="AppService"/>.</summary>
public sealed class SettingsModel(AccountService accounts, AppService apps) : PanelPage(accounts)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    public override string Section => "settings";
    public AppView Settings { get; private set; } = null!;
    public IReadOnlyList<KeyView> Keys { get; private set; } = [];
    public CreatedKey? NewKey { get; private set; }

    public Task OnGetAsync() => LoadAsync();

    [Needs(Permission.ManageApp)]
    public async Task<IActionResult> OnPostGeneralAsync(string? name, string? category, string? timezone,
        string? maxPerDay, string? maxPerWeek, string? quietStart, string? quietEnd, string? emailPer24h, string? emailPerSecond, bool requireApproval = false)
    {
        var ok = await TryAsync(async () =>
        {
            var limits = new AppLimits
            {
                MaxPushesPerUserPerDay = Int(maxPerDay, "maxPushesPerUserPerDay"),
                MaxPushesPerUserPerWeek = Int(maxPerWeek, "maxPushesPerUserPerWeek"),
                QuietHoursStart = Blank(quietStart),
                QuietHoursEnd = Blank(quietEnd),
                EmailMaxPer24Hours = Int(emailPer24h, "emailMaxPer24Hours"),
                EmailMaxPerSecond = Double(emailPerSecond, "emailMaxPerSecond"),
                RequireApproval = requireApproval,
            };
            await apps.UpdateAsync(AppId, new UpdateAppRequest(name ?? "", category, timezone, limits), HttpContext.RequestAborted);
            await AuditAsync("app.update", $"name={name}; category={category}; timezone={timezone}; limits={JsonSerializer.Serialize(limits, Json)}");
        });
        return await DoneAsync(ok, "Settings saved.");
    }

    [Needs(Permission.ManageApp)]
    public async Task<IActionResult> OnPostCredentialsAsync(string channel)
    {
        var f = Request.Form;
        string? F(string k) => Blank(f[k].ToString());
        var ok = await TryAsync(async () =>
        {
            object input = channel switch
            {
                "fcm" => new FcmCredentialsInput(F("serviceAccountJson") ?? ""),
                "apns" => new ApnsCredentialsInput(F("keyId") ?? "", F("teamId") ?? "", F("bundleId") ?? "", F("privateKeyP8") ?? "", f["sandbox"] == "true"),
                "smtp" => new SmtpCredentialsInput(F("host") ?? "", Int(F("port"), "port") ?? 587, F("from") ?? "", F("username"), F("password"), f["startTls"] == "true"),
                "sms" => new SmsCredentialsInput(F("url") ?? "", F("from") ?? "", F("authorization")),
                "vapid" => new VapidSubjectInput(F("subject") ?? ""),
                _ => throw ProblemException.BadRequest($"Unknown channel '{channel}'.", "channel"),
            };
            await apps.SetCredentialsAsync(AppId, channel, JsonSerializer.SerializeToElement(input, input.GetType(), Json), HttpContext.RequestAborted);
            await AuditAsync("app.credentials", $"channel {channel} replaced");
        });
        return await DoneAsync(ok, $"{channel.ToUpperInvariant()} credentials saved. The secret is stored and will not be shown again.");
    }

    [Needs(Permission.ManageApp)]
    public async Task<IActionResult> OnPostCreateKeyAsync(string? kind, string? keyName, string? ipAllow)
    {
        var ok = await TryAsync(async () =>
        {
            NewKey = await apps.CreateKeyAsync(AppId, new CreateKeyRequest(kind ?? "", Blank(keyName), Blank(ipAllow)), HttpContext.RequestAborted);
            await AuditAsync("key.create", $"{NewKey.Kind} key {NewKey.Id} '{NewKey.Name}'");
        });
        await LoadAsync();
        return Page();
    }

    [Needs(Permission.ManageApp)]
    public async Task<IActionResult> OnPostRevokeKeyAsync(long keyId)
    {
        var ok = await TryAsync(async () =>
        {
            await apps.RevokeKeyAsync(AppId, keyId, HttpContext.RequestAborted);
            await AuditAsync("key.revoke", $"key {keyId}");
        });
        return await DoneAsync(ok, $"Key {keyId} revoked; requests using it are refused from now on.");
    }

    private async Task<IActionResult> DoneAsync(bool ok, string message)
    {
        if (ok) Flash = message;
        await LoadAsync();
        if (!ok) Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }

    private async Task LoadAsync()
    {
        Settings = await apps.GetAsync(AppId, HttpContext.RequestAborted) ?? throw ProblemException.NotFound($"App {AppId}");
        Keys = await apps.ListKeysAsync(AppId, HttpContext.RequestAborted);
    }

    /// <summary>What is stored for a channel, secrets as their fingerprint only (<see cref="ChannelCredentials.Mask"/>).</summary>
    public IReadOnlyList<(string Field, string Value)> Stored(string channel)
    {
        if (!Settings.Credentials.TryGetValue(channel, out var o) || o is not IDictionary<string, object?> d) return [];
        return d.Where(kv => kv.Value is not null).Select(kv => (kv.Key, kv.Value!.ToString() ?? "")).ToList();
    }

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    private static int? Int(string? s, string field) =>
        Blank(s) is not { } v ? null
        : int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
        : throw ProblemException.BadRequest($"{field} must be a whole number; got '{v}'.", field);

    private static double? Double(string? s, string field) =>
        Blank(s) is not { } v ? null
        : double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n
        : throw ProblemException.BadRequest($"{field} must be a number; got '{v}'.", field);

    public static string Num(object? v) => v switch
    {
        null => "",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };
}
