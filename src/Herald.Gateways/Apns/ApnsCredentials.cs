namespace Herald.Gateways.Apns;

/// <summary>Token-based APNs authentication: the .p8 signing key from the Apple developer account.</summary>
/// <param name="TeamId">10-character team id (the JWT's iss).</param>
/// <param name="KeyId">10-character key id (the JWT's kid).</param>
/// <param name="PrivateKeyPem">The .p8 file's content: a PKCS#8 PEM P-256 key.</param>
/// <param name="Topic">The app's bundle id (apns-topic).</param>
public sealed record ApnsCredentials(string TeamId, string KeyId, string PrivateKeyPem, string Topic)
{
    /// <summary>Never prints the key (records print every member by default).</summary>
    public override string ToString() => $"ApnsCredentials {{ TeamId = {TeamId}, KeyId = {KeyId}, Topic = {Topic} }}";
}
