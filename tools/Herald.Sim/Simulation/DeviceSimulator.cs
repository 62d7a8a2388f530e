using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Sim.Providers;
using Herald.Sim.Providers.WebPush;

namespace Herald.Sim.Simulation;

/// <summary>One simulated installation: its identity at Herald and what it currently shows.</summary>
public sealed class SimDevice(int index, string platform, string token, WebPushSubscription? subscription, string timezone, string locale)
{
    private readonly HashSet<string> _displayed = [];

    public int Index { get; } = index;
    public string Platform { get; } = platform;
    /// <summary>FCM / APNs token, or the web push endpoint.</summary>
    public string Token { get; } = token;
    public WebPushSubscription? Subscription { get; } = subscription;
    public string Timezone { get; } = timezone;
    public string Locale { get; } = locale;
    public string? ExternalId { get; init; }
    public string InstallationId { get; internal set; } = "";
    /// <summary>The injected failure, if any ("dead", "429", "5xx", "slow").</summary>
    public string? Fault { get; init; }

    /// <summary>Message ids of the notifications in the device's tray now.</summary>
    public IReadOnlyList<string> Displayed
    {
        get { lock (_displayed) return [.. _displayed]; }
    }

    internal void Show(string messageId) { lock (_displayed) _displayed.Add(messageId); }

    internal bool Remove(string messageId) { lock (_displayed) return _displayed.Remove(messageId); }
}

public sealed record SimStats(int Registered, long Displayed, long Recalled, long EventsSent, long EventErrors);

/// <summary>
/// Plays a population of devices against Herald's public SDK API: registers them (mixed platforms,
/// time zones and locales), identifies some, sends their first events, then watches the loopback
/// providers for what Herald sends them, "displays" it, obeys recall commands, and reports
/// push_received / push_opened / push_dismissed back with the message id. Usable from the demo, tests
/// and benchmarks alike; <see cref="Pump"/> does one round of watching so tests drive it step by step.
/// </summary>
public sealed class DeviceSimulator(HttpClient sdk, LoopbackProviders providers, SimOptions options, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Random _rng = new(options.Seed);
    private readonly List<SimDevice> _devices = [];
    private readonly ConcurrentDictionary<string, SimDevice> _byToken = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _pending = new();
    private readonly Lock _pumpLock = new();
    private int _fcmSeen, _apnsSeen, _webSeen;
    private long _displayed, _recalled, _eventsSent, _eventErrors;

    public IReadOnlyList<SimDevice> Devices => _devices;

    public SimStats Stats => new(_devices.Count(d => d.InstallationId.Length > 0), Interlocked.Read(ref _displayed),
        Interlocked.Read(ref _recalled), Interlocked.Read(ref _eventsSent), Interlocked.Read(ref _eventErrors));

    public SimDevice? FindByToken(string token) => _byToken.GetValueOrDefault(token);

    /// <summary>
    /// Creates <see cref="SimOptions.Devices"/> devices and registers them through /sdk/v1/devices; web
    /// devices subscribe with <paramref name="vapidPublicKey"/> (the app's), as browsers do.
    /// </summary>
    public async Task RegisterAsync(string vapidPublicKey, IProgress<int>? progress = null, CancellationToken ct = default)
    {
        var start = _devices.Count;
        for (var i = start; i < start + options.Devices; i++)
            _devices.Add(Create(i, vapidPublicKey));
        var done = 0;
        await Parallel.ForEachAsync(_devices.Skip(start), new ParallelOptions { MaxDegreeOfParallelism = options.Concurrency, CancellationToken = ct },
            async (device, token) =>
            {
                await RegisterOneAsync(device, token).ConfigureAwait(false);
                var n = Interlocked.Increment(ref done);
                if (n % 500 == 0 || n == options.Devices) progress?.Report(n);
            }).ConfigureAwait(false);
    }

    private SimDevice Create(int i, string vapidPublicKey)
    {
        var roll = _rng.NextDouble();
        var platform = roll < options.IosShare ? "ios" : roll < options.IosShare + options.AndroidShare ? "android" : "web";
        var fault = Fault();
        var tz = SimOptions.Timezones[_rng.Next(SimOptions.Timezones.Length)];
        var locale = SimOptions.Locales[_rng.Next(SimOptions.Locales.Length)];
        var external = _rng.NextDouble() < options.IdentifiedShare ? $"sim-user-{i}" : null;
        var bytes = new byte[30];
        _rng.NextBytes(bytes);
        var hex = Convert.ToHexStringLower(bytes);
        SimDevice device;
        switch (platform)
        {
            case "android":
            {
                // The loopback FCM server treats tokens starting "dead-" as unregistered.
                var token = fault == "dead" ? $"dead-{i}-{hex}" : $"sim-{i}-{hex}";
                device = new SimDevice(i, platform, token, null, tz, locale) { ExternalId = external, Fault = fault };
                if (FcmFaultFor(fault) is { } f) providers.Fcm.Inject(token, f, times: 1);
                break;
            }
            case "ios":
            {
                // …and the APNs one tokens starting "dead"; live ones start "a1" so they never do by chance.
                var token = (fault == "dead" ? "dead" : "a1") + hex;
                device = new SimDevice(i, platform, token, null, tz, locale) { ExternalId = external, Fault = fault };
                if (ApnsFaultFor(fault) is { } f) providers.Apns.Inject(token, f, times: 1);
                break;
            }
            default:
            {
                var sub = providers.WebPush.CreateSubscription(vapidPublicKey);
                device = new SimDevice(i, platform, sub.Endpoint, sub, tz, locale) { ExternalId = external, Fault = fault };
                PushFailure? failure = fault switch
                {
                    "dead" => PushFailure.Gone,
                    "429" => PushFailure.TooManyRequests(TimeSpan.FromSeconds(30)),
                    "5xx" => PushFailure.ServerError,
                    "slow" => PushFailure.Slow,
                    _ => null,
                };
                if (failure is not null) providers.WebPush.SetFailure(sub.Endpoint, failure);
                break;
            }
        }
        _byToken[device.Token] = device;
        return device;
    }

    private string? Fault()
    {
        var roll = _rng.NextDouble() * 100;
        if ((roll -= options.DeadTokenPercent) < 0) return "dead";
        if ((roll -= options.TooManyRequestsPercent) < 0) return "429";
        if ((roll -= options.ServerErrorPercent) < 0) return "5xx";
        if ((roll -= options.SlowPercent) < 0) return "slow";
        return null;
    }

    private FcmFault? FcmFaultFor(string? fault) => fault switch
    {
        "429" => FcmFault.QuotaExceeded,
        "5xx" => FcmFault.Unavailable,
        "slow" => FcmFault.Slow(options.SlowDelay),
        _ => null,
    };

    private ApnsFault? ApnsFaultFor(string? fault) => fault switch
    {
        "429" => ApnsFault.TooManyRequests,
        "5xx" => ApnsFault.ServiceUnavailable,
        "slow" => ApnsFault.Slow(options.SlowDelay),
        _ => null,
    };

    private async Task RegisterOneAsync(SimDevice d, CancellationToken ct)
    {
        object body = d.Subscription is { } s
            ? new { platform = d.Platform, pushEnabled = true, timezone = d.Timezone, locale = d.Locale, appVersion = "web", webPush = new { endpoint = s.Endpoint, p256dh = s.P256dh, auth = s.Auth } }
            : new { platform = d.Platform, pushEnabled = true, timezone = d.Timezone, locale = d.Locale, appVersion = "3.2.0", osVersion = d.Platform == "ios" ? "18.1" : "15", pushToken = d.Token };
        using (var res = await sdk.PostAsJsonAsync("/sdk/v1/devices", body, ct).ConfigureAwait(false))
        {
            await Ensure(res, "register device", ct).ConfigureAwait(false);
            using var json = JsonDocument.Parse(await res.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            d.InstallationId = json.RootElement.GetProperty("installationId").GetString()!;
        }
        if (d.ExternalId is { } user)
        {
            using var res = await sdk.PostAsJsonAsync("/sdk/v1/identify",
                new { installationId = d.InstallationId, externalId = user, email = $"{user}@sim.herald.local" }, ct).ConfigureAwait(false);
            await Ensure(res, "identify", ct).ConfigureAwait(false);
        }
        await SendEventsAsync(d, [("install", null), ("app_open", null)], ct).ConfigureAwait(false);
    }

    /// <summary>
    /// One round: reads what the providers accepted since the last round, shows or recalls it on the
    /// devices, and schedules their SDK events. Returns how many notifications were handled.
    /// </summary>
    public int Pump()
    {
        lock (_pumpLock)
        {
            var arrived = new List<Notification>();
            Take(providers.Fcm.Received, ref _fcmSeen, Notification.FromFcm, arrived);
            Take(providers.Apns.Received, ref _apnsSeen, Notification.FromApns, arrived);
            Take(providers.WebPush.Received, ref _webSeen, Notification.FromWebPush, arrived);
            foreach (var n in arrived)
            {
                if (!_byToken.TryGetValue(n.Token, out var device)) continue;
                var reaction = DeviceReaction.React(n, options.Reactions, _rng);
                switch (reaction.Kind)
                {
                    case ReactionKind.Display:
                        device.Show(reaction.MessageId!);
                        Interlocked.Increment(ref _displayed);
                        foreach (var e in reaction.Events) Schedule(device, e, reaction.MessageId!);
                        break;
                    case ReactionKind.Recall when reaction.MessageId is { } id && device.Remove(id):
                        Interlocked.Increment(ref _recalled);
                        break;
                }
            }
            return arrived.Count;
        }
    }

    private static void Take<T>(IReadOnlyList<T> all, ref int seen, Func<T, Notification> map, List<Notification> into)
    {
        for (var i = seen; i < all.Count; i++) into.Add(map(all[i]));
        seen = all.Count;
    }

    private void Schedule(SimDevice device, PlannedEvent e, string messageId)
    {
        var task = Task.Run(async () =>
        {
            if (e.After > TimeSpan.Zero) await Task.Delay(e.After, _time).ConfigureAwait(false);
            // Opening or dismissing takes the notification out of the tray.
            if (e.Name != DeviceReaction.Received) device.Remove(messageId);
            try
            {
                await SendEventsAsync(device, [(e.Name, messageId)], CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception x) when (x is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                Interlocked.Increment(ref _eventErrors);
            }
        });
        _pending[task] = 0;
        task.ContinueWith(t => _pending.TryRemove(t, out _), TaskScheduler.Default);
    }

    /// <summary>Waits until every scheduled SDK event has been sent.</summary>
    public async Task FlushAsync()
    {
        while (!_pending.IsEmpty)
            await Task.WhenAll(_pending.Keys).ConfigureAwait(false);
    }

    /// <summary>Pumps every <paramref name="interval"/> until cancelled.</summary>
    public async Task RunAsync(TimeSpan interval, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false)) Pump();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    private async Task SendEventsAsync(SimDevice d, IReadOnlyList<(string Name, string? MessageId)> events, CancellationToken ct)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var body = new
        {
            installationId = d.InstallationId,
            sentAt = now,
            events = events.Select(e => new
            {
                messageId = Guid.NewGuid().ToString("N"),
                name = e.Name,
                timestamp = now,
                attributes = e.MessageId is null ? new Dictionary<string, string>() : new() { ["message_id"] = e.MessageId },
            }).ToArray(),
        };
        using var res = await sdk.PostAsJsonAsync("/sdk/v1/events", body, ct).ConfigureAwait(false);
        await Ensure(res, "send events", ct).ConfigureAwait(false);
        Interlocked.Add(ref _eventsSent, events.Count);
    }

    private static async Task Ensure(HttpResponseMessage res, string what, CancellationToken ct)
    {
        if (!res.IsSuccessStatusCode)
            throw new InvalidOperationException($"Herald refused to {what}: {(int)res.StatusCode} {await res.Content.ReadAsStringAsync(ct).ConfigureAwait(false)}");
    }
}
