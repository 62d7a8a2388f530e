using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;

namespace Herald.Tests.Support;

/// <summary>One POST the receiver got.</summary>
public sealed record ReceivedWebhook(string? ContentType, IReadOnlyDictionary<string, string> Headers, JsonElement Body);

/// <summary>An HTTP endpoint on 127.0.0.1 at a free port that records JSON POSTs, answering a chosen status to the first ones.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private int _failFirst;

    private WebhookReceiver(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    public IReadOnlyList<ReceivedWebhook> Received => _received.ToArray();

    /// <summary>The next <paramref name="times"/> requests are answered 503 (and not recorded as received).</summary>
    public void FailNext(int times) => Interlocked.Exchange(ref _failFirst, times);

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Url = new Uri(new Uri(address), "/hooks/herald");
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (Interlocked.Decrement(ref _failFirst) >= 0)
        {
            context.Response.StatusCode = 503;
            return;
        }
        using var doc = await JsonDocument.ParseAsync(context.Request.Body);
        _received.Enqueue(new ReceivedWebhook(context.Request.ContentType,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), doc.RootElement.Clone()));
        context.Response.StatusCode = 204;
    }

    /// <summary>Waits (bounded, polling) until <paramref name="count"/> webhooks have arrived.</summary>
    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(int count, TimeSpan? within = null)
    {
        var until = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (_received.Count < count && DateTime.UtcNow < until) await Task.Delay(25);
        return Received;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
