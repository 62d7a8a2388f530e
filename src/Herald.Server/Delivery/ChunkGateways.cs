using System.Collections.Concurrent;
using Herald.Gateways;
using Herald.Gateways.Sms;

namespace Herald.Server.Delivery;

/// <summary>
/// An app's gateways looked up once for a batch of sends: the registry reads the app's row on every
/// look-up (so new credentials apply on every node without a signal), which is right per batch and
/// wasteful per message. A failed look-up (no credentials: 409) is answered to every message that asks.
/// </summary>
public sealed class ChunkGateways(GatewayRegistry registry, long appId, CancellationToken ct)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<object>>> _looked = new(StringComparer.Ordinal);

    public async Task<IPushGateway> PushAsync(string channel) =>
        (IPushGateway)await Once(channel, async () => await registry.PushAsync(appId, channel, ct));

    public async Task<EmailChannel> EmailAsync() => (EmailChannel)await Once(Channels.Smtp, async () => await registry.EmailAsync(appId, ct));

    public async Task<HttpSmsGateway> SmsAsync() => (HttpSmsGateway)await Once(Channels.Sms, async () => await registry.SmsAsync(appId, ct));

    private Task<object> Once(string channel, Func<Task<object>> lookUp) =>
        _looked.GetOrAdd(channel, _ => new Lazy<Task<object>>(lookUp)).Value;
}
