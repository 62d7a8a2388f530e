using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Server.Infrastructure;

namespace Herald.Server.Apps;

/// <summary>
/// Validates channel credentials on the way in and masks them on the way out: secrets are reported
/// only as "set (sha256:…)" so an operator can tell which key is configured without reading it.
/// </summary>
public static class ChannelCredentials
{
    private static readonly HashSet<string> Secret = ["privateKey", "privateKeyP8", "password", "authorization", "serviceAccountJson"];

    public static JsonObject Fcm(FcmCredentialsInput input)
    {
        Required(input.ServiceAccountJson, "serviceAccountJson");
        JsonNode? sa;
        try { sa = JsonNode.Parse(input.ServiceAccountJson); }
        catch (JsonException) { throw ProblemException.BadRequest("serviceAccountJson is not valid JSON: paste the service-account file from the Firebase console.", "serviceAccountJson"); }
        string Field(string name) => sa?[name]?.GetValue<string>() is { Length: > 0 } v ? v
            : throw ProblemException.BadRequest($"serviceAccountJson lacks '{name}'.", $"serviceAccountJson.{name}");
        var projectId = Field("project_id");
        var email = Field("client_email");
        var key = Field("private_key");
        try { using var rsa = RSA.Create(); rsa.ImportFromPem(key); }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        { throw ProblemException.BadRequest("serviceAccountJson.private_key is not a PEM RSA private key.", "serviceAccountJson.private_key"); }
        return new JsonObject
        {
            ["projectId"] = projectId,
            ["clientEmail"] = email,
            ["tokenUri"] = sa?["token_uri"]?.GetValue<string>(),
            ["serviceAccountJson"] = input.ServiceAccountJson,
        };
    }

    public static JsonObject Apns(ApnsCredentialsInput input)
    {
        Required(input.KeyId, "keyId");
        Required(input.TeamId, "teamId");
        Required(input.BundleId, "bundleId");
        Required(input.PrivateKeyP8, "privateKeyP8");
        try { using var ec = ECDsa.Create(); ec.ImportFromPem(input.PrivateKeyP8); }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        { throw ProblemException.BadRequest("privateKeyP8 is not a PEM (PKCS#8) EC private key: paste the .p8 file from Apple.", "privateKeyP8"); }
        return new JsonObject
        {
            ["keyId"] = input.KeyId, ["teamId"] = input.TeamId, ["bundleId"] = input.BundleId,
            ["privateKeyP8"] = input.PrivateKeyP8, ["sandbox"] = input.Sandbox,
        };
    }

    public static JsonObject Smtp(SmtpCredentialsInput input)
    {
        Required(input.Host, "host");
        Required(input.From, "from");
        if (input.Port is < 1 or > 65535) throw ProblemException.BadRequest($"port must be 1-65535; got {input.Port}.", "port");
        try { _ = new System.Net.Mail.MailAddress(input.From); }
        catch (FormatException) { throw ProblemException.BadRequest($"from '{input.From}' is not an email address.", "from"); }
        return new JsonObject
        {
            ["host"] = input.Host, ["port"] = input.Port, ["from"] = input.From,
            ["username"] = input.Username, ["password"] = input.Password, ["startTls"] = input.StartTls,
        };
    }

    public static JsonObject Sms(SmsCredentialsInput input)
    {
        Required(input.Url, "url");
        Required(input.From, "from");
        if (!Uri.TryCreate(input.Url, UriKind.Absolute, out var u) || (u.Scheme != "https" && u.Scheme != "http"))
            throw ProblemException.BadRequest($"url must be an absolute http(s) URL; got '{input.Url}'.", "url");
        return new JsonObject { ["url"] = input.Url, ["from"] = input.From, ["authorization"] = input.Authorization };
    }

    public static JsonObject Vapid(VapidSubjectInput input)
    {
        Required(input.Subject, "subject");
        if (!input.Subject.StartsWith("mailto:", StringComparison.Ordinal) && !input.Subject.StartsWith("https:", StringComparison.Ordinal))
            throw ProblemException.BadRequest("subject must be a mailto: or https: contact (RFC 8292).", "subject");
        return new JsonObject { ["subject"] = input.Subject };
    }

    public static IReadOnlyDictionary<string, object> Mask(string storedJson)
    {
        var result = new Dictionary<string, object>();
        if (JsonNode.Parse(storedJson) is not JsonObject all) return result;
        foreach (var (channel, node) in all)
        {
            if (node is not JsonObject o) continue;
            var masked = new Dictionary<string, object?>();
            foreach (var (k, v) in o)
                masked[k] = Secret.Contains(k) && v is not null ? MaskValue(v.ToString()) : v?.DeepClone();
            result[channel] = masked;
        }
        return result;
    }

    // A short fingerprint tells operators which secret is configured without revealing any of it.
    private static string MaskValue(string s) =>
        s.Length == 0 ? "" : $"set (sha256:{Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(s)))[..8]})";

    private static void Required(string? v, string field)
    {
        if (string.IsNullOrWhiteSpace(v)) throw ProblemException.BadRequest($"{field} is required.", field);
    }
}
