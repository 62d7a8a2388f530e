namespace Herald.Gateways.Email;

/// <summary>
/// One rendered email to one recipient. At least one of <see cref="Html"/> / <see cref="Text"/>;
/// with both, mail clients pick the HTML and fall back to the text. <see cref="MessageId"/> travels
/// as the X-Herald-Message-Id header so bounces and complaints find their way back.
/// </summary>
public sealed record EmailMessage(string To, string From, string Subject, string? Html, string? Text, string MessageId)
{
    public const string MessageIdHeader = "X-Herald-Message-Id";

    /// <summary>Display name for <see cref="From"/>, e.g. "Herald Shop".</summary>
    public string? FromName { get; init; }
    public string? ReplyTo { get; init; }
}
