using System.Text.Json.Serialization;

namespace Herald.Server.Apps;

public static class AppCategories
{
    // E-commerce and Media unlock catalog-message scenarios (R-APP-2).
    public static readonly string[] All = ["general", "ecommerce", "media"];
}

public sealed record CreateAppRequest(string Name, string? Category = null, string? Timezone = null);

public sealed record UpdateAppRequest(string? Name = null, string? Category = null, string? Timezone = null, AppLimits? Limits = null);

/// <summary>App-wide delivery limits (R-APP-2, R-MSG-6, R-MSG-14). Null means "no limit".</summary>
public sealed record AppLimits
{
    public int? MaxPushesPerUserPerDay { get; init; }
    public int? MaxPushesPerUserPerWeek { get; init; }
    /// <summary>Local "HH:mm" in the device's timezone; sends inside the window are deferred, never dropped.</summary>
    public string? QuietHoursStart { get; init; }
    public string? QuietHoursEnd { get; init; }
    /// <summary>Amazon SES style quota: at most this many mails per rolling 24 hours (-1 = unlimited).</summary>
    public int? EmailMaxPer24Hours { get; init; }
    public double? EmailMaxPerSecond { get; init; }
    /// <summary>
    /// R-PANEL-2: a campaign is sent or activated only after a person with the approver, admin or
    /// owner role, other than whoever last changed it, has approved it in the panel. An edit withdraws
    /// the approval. Transactional messages and the runs of an active automation are not affected.
    /// </summary>
    public bool RequireApproval { get; init; }
}

public sealed record AppView(
    long Id, string Name, string Category, string Timezone, AppLimits Limits,
    string VapidPublicKey, IReadOnlyDictionary<string, object> Credentials, long CreatedAt);

public sealed record KeyView(long Id, string Kind, string Name, string Prefix, string? IpAllowList, long CreatedAt, long? RevokedAt);

/// <summary>A key as created: the only time its secret is shown.</summary>
public sealed record CreatedKey(long Id, string Kind, string Name, string Key, string? IpAllowList)
{
    [JsonPropertyOrder(99)]
    public string Note => "Store this key now: Herald keeps only its hash and cannot show it again.";
}

public sealed record CreateKeyRequest(string Kind, string? Name = null, string? IpAllowList = null);

public sealed record CreatedApp(AppView App, CreatedKey SdkKey, CreatedKey RestKey);

// Channel credentials: write-only. Reads return a masked view (ChannelCredentials.Mask).
public sealed record FcmCredentialsInput(string ServiceAccountJson);
public sealed record ApnsCredentialsInput(string KeyId, string TeamId, string BundleId, string PrivateKeyP8, bool Sandbox = false);
public sealed record SmtpCredentialsInput(string Host, int Port, string From, string? Username = null, string? Password = null, bool StartTls = true);
public sealed record SmsCredentialsInput(string Url, string From, string? Authorization = null);
public sealed record VapidSubjectInput(string Subject);
