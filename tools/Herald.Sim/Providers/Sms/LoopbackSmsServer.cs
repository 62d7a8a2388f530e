using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Herald.Sim.Providers.Sms;

/// <summary>A request the SMS provider accepted: the JSON fields Herald sends, and the raw headers.</summary>
public sealed record ReceivedSms(string To, string From, string Text, string MessageId, string Encoding, int Segments, string Id, IReadOnlyDictionary<string, string> Headers);

/// <summary>An answer to give instead of 200 for one recipient. <see cref="Hang"/> never answers.</summary>
public sealed record SmsFailure(int Status, TimeSpan? RetryAfter = null, string? Body = null, bool Hang = false)
{
    public static SmsFailure Slow { get; } = new(0, Hang: true);
}

/// <summary>
/// An HTTP SMS provider on 127.0.0.1 accepting Herald's request shape at <c>POST /messages</c>:
/// checks the credentials it was started with, validates the JSON, records accepted messages and
/// answers <c>{"id": "...", "status": "queued"}</c>, or an injected failure per recipient.
/// </summary>
public sealed class LoopbackSmsServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string? _expectedAuthorization;
    private readonly ConcurrentQueue<ReceivedSms> _received = new();
    private readonly ConcurrentDictionary<string, SmsFailure> _failures = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _sequence;

    private LoopbackSmsServer(WebApplication app, string? expectedAuthorization)
    {
        _app = app;
        _expectedAuthorization = expectedAuthorization;
    }

    public Uri BaseAddress { get; private set; } = null!;
    public Uri MessagesEndpoint => new(BaseAddress, "/messages");
    public IReadOnlyList<ReceivedSms> Received => [.. _received];

    /// <param name="expectedAuthorization">The exact Authorization header to require (e.g. "Bearer abc"); null accepts any.</param>
    public static async Task<LoopbackSmsServer> StartAsync(string? expectedAuthorization = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new LoopbackSmsServer(app, expectedAuthorization);
        app.MapPost("/messages", (Delegate)server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        server.BaseAddress = new Uri(app.Urls.First());
        return server;
    }

    /// <summary>Answer every later message to <paramref name="to"/> with <paramref name="failure"/> (null: accept again).</summary>
    public void SetFailure(string to, SmsFailure? failure)
    {
        if (failure is null) _failures.TryRemove(to, out _);
        else _failures[to] = failure;
    }

    private async Task<IResult> HandleAsync(HttpContext context)
    {
        if (_expectedAuthorization is not null && context.Request.Headers.Authorization != _expectedAuthorization)
            return Results.Json(new { error = "unauthorized" }, statusCode: 401);

        JsonElement body;
        try
        {
            using var json = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            body = json.RootElement.Clone();
        }
        catch (JsonException)
        {
            return Results.Json(new { error = "body is not JSON" }, statusCode: 400);
        }

        string? Field(string name) => body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        string? to = Field("to"), from = Field("from"), text = Field("text"), messageId = Field("message_id"), encoding = Field("encoding");
        if (to is null || from is null || text is null || messageId is null || encoding is not ("gsm7" or "ucs2")
            || !body.TryGetProperty("segments", out var seg) || seg.ValueKind != JsonValueKind.Number)
            return Results.Json(new { error = "to, from, text, message_id, encoding (gsm7|ucs2) and segments are required" }, statusCode: 422);

        if (_failures.TryGetValue(to, out var failure))
        {
            if (failure.Hang)
            {
                using var either = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
                try { await Task.Delay(Timeout.Infinite, either.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
                return Results.StatusCode(503);
            }
            if (failure.RetryAfter is { } after)
                context.Response.Headers.RetryAfter = ((long)after.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.Text(failure.Body ?? "", "application/json", statusCode: failure.Status);
        }

        string id = "sms-" + Interlocked.Increment(ref _sequence);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _received.Enqueue(new ReceivedSms(to, from, text, messageId, encoding, seg.GetInt32(), id, headers));
        return Results.Json(new { id, status = "queued" });
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}
