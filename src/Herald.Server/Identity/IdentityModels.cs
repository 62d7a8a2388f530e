namespace Herald.Server.Identity;

public sealed class DeviceView
{
    public string InstallationId { get; init; } = "";
    public int Ordinal { get; init; }
    public string Platform { get; init; } = "";
    public string? AnonymousId { get; init; }
    public string? ExternalId { get; init; }
    public string? PushToken { get; init; }
    public bool PushEnabled { get; init; }
    public string? Timezone { get; init; }
    public string? Locale { get; init; }
    public string? AppVersion { get; init; }
    public string? OsVersion { get; init; }
    public double? Latitude { get; init; }
    public double? Longitude { get; init; }
    public long CreatedAt { get; init; }
    public long LastSeenAt { get; init; }
    public long? UninstalledAt { get; init; }
    /// <summary>Why the device was marked uninstalled (the provider's answer), while it is.</summary>
    public string? UninstallReason { get; init; }
    /// <summary>When an uninstalled device last came back with a new push token.</summary>
    public long? ReinstalledAt { get; init; }
    public long? TokenUpdatedAt { get; init; }
}

public sealed class UserView
{
    public string ExternalId { get; init; } = "";
    public int Ordinal { get; init; }
    public string? Email { get; init; }
    public string? Phone { get; init; }
    public bool OptInPush { get; init; }
    public bool OptInEmail { get; init; }
    public bool OptInSms { get; init; }
    /// <summary>Set when a permanent bounce or complaint suppressed the address: no email goes to it.</summary>
    public long? EmailSuppressedAt { get; init; }
    public string? EmailSuppressionReason { get; init; }
    public System.Text.Json.Nodes.JsonObject Attributes { get; set; } = [];
    public long CreatedAt { get; init; }
    public long UpdatedAt { get; init; }
    public IReadOnlyList<DeviceView> Devices { get; set; } = [];
}

public sealed class EventView
{
    public string MessageId { get; init; } = "";
    public string Name { get; init; } = "";
    public string? InstallationId { get; init; }
    public string? ExternalId { get; init; }
    public long OccurredAt { get; init; }
    public long ReceivedAt { get; init; }

    /// <summary>As stored; read through <see cref="Attributes"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string PropertiesJson { get; init; } = "{}";

    public System.Text.Json.Nodes.JsonObject Attributes => System.Text.Json.Nodes.JsonNode.Parse(PropertiesJson)!.AsObject();
    public double? Revenue { get; init; }
    public string? Currency { get; init; }
    public string? UtmSource { get; init; }
    public string? UtmMedium { get; init; }
    public string? UtmCampaign { get; init; }
    public string? UtmTerm { get; init; }
    public string? UtmContent { get; init; }
}

public sealed record CsvImportReport(int Accepted, IReadOnlyList<CsvRejectedRow> Rejected);

public sealed record CsvRejectedRow(int Line, string Field, string Reason);
