namespace Herald.Gateways;

public enum PushPriority { Normal, High }

/// <summary>One button of an interactive set (R-MSG-2). Action: "open_app" | "url" | "deeplink" | "dismiss" | "set_attribute".</summary>
public sealed record PushButton(string Id, string Text, string Action, string? Target = null);

/// <summary>
/// A message already rendered for one device: no templates left in it. Gateways turn it into the
/// provider's request. <see cref="Command"/> set means a silent command push (e.g. "recall") with no
/// visible notification.
/// </summary>
public sealed record PushMessage
{
    public required string MessageId { get; init; }
    public string? Title { get; init; }
    public string? Body { get; init; }
    public string? ImageUrl { get; init; }
    public string? Url { get; init; }
    public string? Sound { get; init; }
    public int? Badge { get; init; }
    public IReadOnlyDictionary<string, string> Data { get; init; } = NoData;
    public IReadOnlyList<PushButton> Buttons { get; init; } = [];
    public TimeSpan? TimeToLive { get; init; }
    /// <summary>Defaults to the message id so a retried send replaces, never duplicates, the notification.</summary>
    public string? CollapseKey { get; init; }
    public PushPriority Priority { get; init; } = PushPriority.Normal;
    public string? Command { get; init; }

    /// <summary>The empty custom data every message without any shares (read-only, so one instance will do).</summary>
    public static readonly IReadOnlyDictionary<string, string> NoData = System.Collections.Frozen.FrozenDictionary<string, string>.Empty;
}

/// <summary>Where a push goes: an FCM/APNs token, or a web push subscription (endpoint + keys).</summary>
public sealed record PushTarget(string Token, string? P256dh = null, string? Auth = null);

/// <summary>One gateway per provider and credential set.</summary>
public interface IPushGateway
{
    Task<SendOutcome> SendAsync(PushTarget target, PushMessage message, CancellationToken cancellationToken);
}
