namespace Herald.Server.Ingest;

/// <summary>Why one item of a request was refused: shaped like a problem detail so clients handle both alike.</summary>
public sealed record IngestError(string Field, string Detail, object? Limit = null);

public sealed record Utm(string? Source, string? Medium, string? Campaign, string? Term, string? Content)
{
    public static readonly Utm None = new(null, null, null, null, null);
    public bool IsEmpty => Source is null && Medium is null && Campaign is null && Term is null && Content is null;
}

/// <summary>Who an item is about: a registered installation, a client-side anonymous id, and/or a user.</summary>
public readonly record struct Who(string? InstallationId, string? AnonymousId, string? UserId);

public sealed record EventInput
{
    public required string MessageId { get; init; }
    public required string Name { get; init; }
    public Who Who { get; init; }
    public long OccurredAt { get; init; }
    private string? _propertiesJson;
    private ReadOnlyMemory<byte> _propertiesUtf8;

    /// <summary>The properties object as JSON text; made from <see cref="PropertiesUtf8"/> when first asked for.</summary>
    public string PropertiesJson
    {
        get => _propertiesJson ??= System.Text.Encoding.UTF8.GetString(_propertiesUtf8.Span);
        init => _propertiesJson = value;
    }

    /// <summary>The properties object as UTF-8 JSON, as it came in (the fast parser's slice of the request body).</summary>
    public ReadOnlyMemory<byte> PropertiesUtf8
    {
        get => _propertiesUtf8.IsEmpty && _propertiesJson is not null ? _propertiesUtf8 = System.Text.Encoding.UTF8.GetBytes(_propertiesJson) : _propertiesUtf8;
        init => _propertiesUtf8 = value;
    }

    /// <summary>The campaign message the event refers to (<see cref="StoredEvent.MessageRefOf"/> of the properties).</summary>
    public string? MessageRef { get; init; }
    public double? Revenue { get; init; }
    public string? Currency { get; init; }
    public Utm Utm { get; init; } = Utm.None;
    public string? Platform { get; init; }
}

public sealed class DeviceInput
{
    public string? InstallationId { get; init; }
    public string? AnonymousId { get; init; }
    public required string Platform { get; init; }
    public string? PushToken { get; init; }
    public string? PushP256dh { get; init; }
    public string? PushAuth { get; init; }
    public bool? PushEnabled { get; init; }
    public string? Timezone { get; init; }
    public string? Locale { get; init; }
    public string? AppVersion { get; init; }
    public string? OsVersion { get; init; }
    public double? Latitude { get; init; }
    public double? Longitude { get; init; }
    /// <summary>Which fields the caller sent: absent fields keep their stored value on update.</summary>
    public required IReadOnlySet<string> Present { get; init; }
}

public sealed class UserTraits
{
    public string? Email { get; init; }
    public string? Phone { get; init; }
    public bool? OptInPush { get; init; }
    public bool? OptInEmail { get; init; }
    public bool? OptInSms { get; init; }
    /// <summary>Typed attribute values, already validated.</summary>
    public IReadOnlyDictionary<string, TypedValue> Attributes { get; init; } = new Dictionary<string, TypedValue>();
    public bool ClearEmail { get; init; }
    public bool ClearPhone { get; init; }
}

/// <summary>One operation of an ingest request; applied in order inside one transaction.</summary>
public abstract record IngestOp(int Index);

public sealed record DeviceOp(int Index, DeviceInput Device) : IngestOp(Index);

/// <summary>Identify: attach <see cref="Who"/>'s device (if any) to the user and set traits (R-ID-2).</summary>
public sealed record IdentifyOp(int Index, Who Who, string UserId, UserTraits Traits) : IngestOp(Index);

/// <summary>Segment alias: <see cref="PreviousId"/> (anonymous id or old user id) is the same person as <see cref="UserId"/>.</summary>
public sealed record AliasOp(int Index, string PreviousId, string UserId) : IngestOp(Index);

public sealed record EventOp(int Index, EventInput Event) : IngestOp(Index);

/// <summary>The result of one item: accepted (with the installation id for device ops) or an error.</summary>
public readonly record struct OpResult(int Index, IngestError? Error, string? InstallationId = null, bool Duplicate = false);
