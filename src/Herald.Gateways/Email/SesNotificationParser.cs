using System.Net.Mail;
using System.Text.Json;

namespace Herald.Gateways.Email;

public enum SesNotificationType { Bounce, Complaint, Delivery, SubscriptionConfirmation, Other }

/// <summary>
/// What an SES notification means for Herald. <see cref="Suppress"/> holds the addresses never to
/// mail again (permanent bounces and complaints); transient and undetermined bounces suppress none.
/// </summary>
public sealed record SesNotification(
    SesNotificationType Type,
    IReadOnlyList<string> Recipients,
    IReadOnlyList<string> Suppress,
    string? BounceType = null,
    string? BounceSubType = null,
    string? SesMessageId = null,
    string? HeraldMessageId = null,
    string? SubscribeUrl = null);

/// <summary>
/// Reads Amazon SES bounce / complaint / delivery notifications, either the SES JSON itself or the
/// SNS envelope around it (Type "Notification" with the SES JSON as the Message string). SES event
/// publishing's "eventType" is read like "notificationType".
/// </summary>
public static class SesNotificationParser
{
    /// <exception cref="FormatException">The body is not JSON or not an SES / SNS notification.</exception>
    public static SesNotification Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("SES notification must be a JSON object.");

            switch (Str(root, "Type"))
            {
                case "Notification":
                    return Parse(Str(root, "Message") ?? throw new FormatException("SNS Notification has no Message."));
                case "SubscriptionConfirmation":
                    return new SesNotification(SesNotificationType.SubscriptionConfirmation, [], [], SubscribeUrl: Str(root, "SubscribeURL"));
                case { } other when !root.TryGetProperty("notificationType", out _) && !root.TryGetProperty("eventType", out _):
                    return new SesNotification(SesNotificationType.Other, [], [], BounceType: other);
            }

            string type = Str(root, "notificationType") ?? Str(root, "eventType")
                ?? throw new FormatException("Not an SES notification: no notificationType.");
            string? sesId = null, heraldId = null;
            if (root.TryGetProperty("mail", out var mail) && mail.ValueKind == JsonValueKind.Object)
            {
                sesId = Str(mail, "messageId");
                if (mail.TryGetProperty("headers", out var headers) && headers.ValueKind == JsonValueKind.Array)
                    heraldId = headers.EnumerateArray()
                        .Where(h => string.Equals(Str(h, "name"), EmailMessage.MessageIdHeader, StringComparison.OrdinalIgnoreCase))
                        .Select(h => Str(h, "value")).FirstOrDefault();
            }

            switch (type)
            {
                case "Bounce":
                {
                    var bounce = Obj(root, "bounce");
                    string? bounceType = Str(bounce, "bounceType");
                    var recipients = Addresses(bounce, "bouncedRecipients");
                    return new SesNotification(SesNotificationType.Bounce, recipients,
                        bounceType == "Permanent" ? recipients : [], bounceType, Str(bounce, "bounceSubType"), sesId, heraldId);
                }
                case "Complaint":
                {
                    var recipients = Addresses(Obj(root, "complaint"), "complainedRecipients");
                    return new SesNotification(SesNotificationType.Complaint, recipients, recipients, SesMessageId: sesId, HeraldMessageId: heraldId);
                }
                case "Delivery":
                {
                    var delivery = Obj(root, "delivery");
                    var recipients = delivery.TryGetProperty("recipients", out var r) && r.ValueKind == JsonValueKind.Array
                        ? r.EnumerateArray().Select(x => Normalize(x.GetString())).OfType<string>().ToList()
                        : [];
                    return new SesNotification(SesNotificationType.Delivery, recipients, [], SesMessageId: sesId, HeraldMessageId: heraldId);
                }
                default:
                    return new SesNotification(SesNotificationType.Other, [], [], SesMessageId: sesId, HeraldMessageId: heraldId);
            }
        }
        catch (JsonException e)
        {
            throw new FormatException("SES notification is not valid JSON: " + e.Message, e);
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static JsonElement Obj(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : throw new FormatException($"SES notification has no '{name}' object.");

    private static List<string> Addresses(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(r => Normalize(Str(r, "emailAddress"))).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase).ToList()
            : [];

    // SES may give "Name <addr>"; suppression lists key on the bare address.
    private static string? Normalize(string? address) =>
        address is null ? null : MailAddress.TryCreate(address.Trim(), out var parsed) ? parsed.Address : address.Trim();
}
