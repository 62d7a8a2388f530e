using System.Text.Json;

namespace Herald.Gateways.Fcm;

/// <summary>The fields of a Google service-account JSON key that FCM HTTP v1 needs.</summary>
public sealed record FcmCredentials(string ProjectId, string ClientEmail, string PrivateKeyPem, Uri TokenUri, string? PrivateKeyId = null)
{
    public static readonly Uri DefaultTokenUri = new("https://oauth2.googleapis.com/token");

    /// <summary>Parses the key file Firebase console hands out ("Generate new private key").</summary>
    public static FcmCredentials FromServiceAccountJson(string json)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"The service-account key is not valid JSON: {e.Message}", nameof(json), e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ArgumentException("The service-account key must be a JSON object.", nameof(json));
            if (root.TryGetProperty("type", out var type) && type.GetString() != "service_account")
                throw new ArgumentException($"The key's \"type\" is \"{type.GetString()}\"; FCM needs a \"service_account\" key.", nameof(json));
            var tokenUri = Optional(root, "token_uri") is { } uri
                ? Uri.TryCreate(uri, UriKind.Absolute, out var parsed) ? parsed : throw new ArgumentException($"\"token_uri\" is not an absolute URL: {uri}", nameof(json))
                : DefaultTokenUri;
            return new FcmCredentials(
                Required(root, "project_id"),
                Required(root, "client_email"),
                Required(root, "private_key"),
                tokenUri,
                Optional(root, "private_key_id"));
        }
    }

    private static string Required(JsonElement root, string name) =>
        Optional(root, name) ?? throw new ArgumentException($"The service-account key lacks \"{name}\".", "json");

    private static string? Optional(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s ? s : null;

    /// <summary>Never prints the private key (records print every member by default).</summary>
    public override string ToString() => $"FcmCredentials {{ ProjectId = {ProjectId}, ClientEmail = {ClientEmail}, TokenUri = {TokenUri} }}";
}
