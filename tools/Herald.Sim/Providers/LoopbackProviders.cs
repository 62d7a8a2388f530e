using Herald.Sim.Providers.Sms;
using Herald.Sim.Providers.WebPush;

namespace Herald.Sim.Providers;

/// <summary>
/// Every push and SMS provider on loopback at once — what a Herald under test or in the demo is
/// pointed at. <see cref="HeraldSettings"/> gives the <c>Herald:Gateways</c> settings that do the
/// pointing (base addresses, and a PEM file trusting exactly the servers' self-signed certificates).
/// </summary>
public sealed class LoopbackProviders : IAsyncDisposable
{
    private LoopbackProviders(LoopbackFcmServer fcm, LoopbackApnsServer apns, LoopbackWebPushServer webPush, LoopbackSmsServer sms, string certificateFile)
    {
        Fcm = fcm;
        Apns = apns;
        WebPush = webPush;
        Sms = sms;
        CertificateFile = certificateFile;
    }

    public LoopbackFcmServer Fcm { get; }
    public LoopbackApnsServer Apns { get; }
    public LoopbackWebPushServer WebPush { get; }
    public LoopbackSmsServer Sms { get; }

    /// <summary>PEM file with the FCM and APNs servers' certificates.</summary>
    public string CertificateFile { get; }

    /// <param name="time">The clock the servers check tokens against: give them Herald's, or a fake clock's
    /// tokens look expired or not yet valid.</param>
    public static async Task<LoopbackProviders> StartAsync(TimeProvider? time = null)
    {
        var fcm = await LoopbackFcmServer.StartAsync(time: time).ConfigureAwait(false);
        var apns = await LoopbackApnsServer.StartAsync(time: time).ConfigureAwait(false);
        var webPush = await LoopbackWebPushServer.StartAsync(time).ConfigureAwait(false);
        var sms = await LoopbackSmsServer.StartAsync().ConfigureAwait(false);
        var file = Path.Combine(Path.GetTempPath(), $"herald-loopback-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(file, fcm.Certificate.ExportCertificatePem() + "\n" + apns.Certificate.ExportCertificatePem() + "\n").ConfigureAwait(false);
        return new LoopbackProviders(fcm, apns, webPush, sms, file);
    }

    /// <summary>Herald configuration pointing its gateways here (command-line switches or test settings).</summary>
    public Dictionary<string, string?> HeraldSettings() => new()
    {
        ["Herald:Gateways:Fcm:BaseAddress"] = Fcm.BaseAddress.ToString(),
        ["Herald:Gateways:Apns:BaseAddress"] = Apns.BaseAddress.ToString(),
        ["Herald:Gateways:Apns:SandboxBaseAddress"] = Apns.BaseAddress.ToString(),
        ["Herald:Gateways:Http:TrustedCertificateFile"] = CertificateFile,
    };

    /// <summary>The credentials bodies for PUT /api/v1/app/credentials/{fcm|apns|vapid|sms}.</summary>
    public object FcmCredentials => new { serviceAccountJson = Fcm.ServiceAccountJson };
    public object ApnsCredentials => new { keyId = Apns.KeyId, teamId = Apns.TeamId, bundleId = Apns.Topic, privateKeyP8 = Apns.PrivateKeyPem, sandbox = false };
    public static object VapidCredentials => new { subject = "mailto:push@herald.local" };
    public object SmsCredentials => new { url = Sms.MessagesEndpoint.ToString(), from = "HERALD" };

    public async ValueTask DisposeAsync()
    {
        await Fcm.DisposeAsync().ConfigureAwait(false);
        await Apns.DisposeAsync().ConfigureAwait(false);
        await WebPush.DisposeAsync().ConfigureAwait(false);
        await Sms.DisposeAsync().ConfigureAwait(false);
        try { File.Delete(CertificateFile); } catch (IOException) { }
    }
}
