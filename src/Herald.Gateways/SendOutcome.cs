namespace Herald.Gateways;

/// <summary>How a provider answered one send. Every gateway classifies into exactly these.</summary>
public enum OutcomeKind
{
    /// <summary>The provider accepted the message (it owns delivery from here).</summary>
    Delivered,
    /// <summary>Transient: rate limit, 5xx, timeout. Try again after <see cref="SendOutcome.RetryAfter"/>.</summary>
    RetryLater,
    /// <summary>The token / subscription / address is gone: mark the device uninstalled, never retry.</summary>
    TokenDead,
    /// <summary>This message (payload, token format, topic) was refused: failed, not retried.</summary>
    Invalid,
    /// <summary>Our credentials or project settings are wrong: alert operators, pause the channel, do not blame the device.</summary>
    ConfigError,
}

public sealed record SendOutcome(
    OutcomeKind Kind,
    string? ProviderMessageId = null,
    TimeSpan? RetryAfter = null,
    string? Reason = null,
    int? StatusCode = null)
{
    public static SendOutcome Delivered(string? providerMessageId, int? status = null) => new(OutcomeKind.Delivered, providerMessageId, StatusCode: status);
    public static SendOutcome Retry(TimeSpan after, string reason, int? status = null) => new(OutcomeKind.RetryLater, RetryAfter: after, Reason: reason, StatusCode: status);
    public static SendOutcome Dead(string reason, int? status = null) => new(OutcomeKind.TokenDead, Reason: reason, StatusCode: status);
    public static SendOutcome Refused(string reason, int? status = null) => new(OutcomeKind.Invalid, Reason: reason, StatusCode: status);
    public static SendOutcome Misconfigured(string reason, int? status = null) => new(OutcomeKind.ConfigError, Reason: reason, StatusCode: status);
}
