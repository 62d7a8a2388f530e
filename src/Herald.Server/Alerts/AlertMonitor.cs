using System.Collections.Concurrent;
using Herald.Domain.Alerts;
using Herald.Gateways;
using Herald.Server.Campaigns;
using Microsoft.Extensions.Options;

namespace Herald.Server.Alerts;

/// <summary>
/// Keeps sliding-window counters from the dispatcher's committed outcomes — per (app, campaign): finished
/// messages and those that failed; per (app, provider): answers and the provider's own errors (retry
/// later: 5xx, 429, timeouts) — and raises an incident when a rate crosses its threshold. Counters are
/// per node (each node judges the traffic it sends); the incident itself is shared through the database.
/// Configuration errors are not counted here: <see cref="Delivery.DeliveryFeedback"/> reports them on
/// every path (campaigns, transactional and test sends) as credential incidents.
/// </summary>
public sealed class AlertMonitor(AlertService alerts, IOptions<AlertOptions> options, TimeProvider clock) : IDeliveryObserver
{
    private readonly AlertOptions _o = options.Value;
    private readonly ConcurrentDictionary<(long AppId, string Key), Tracked> _windows = new();

    private sealed class Tracked(TimeSpan window)
    {
        public RateWindow Window { get; } = new(window);
        /// <summary>When this node last wrote the incident for this key (ticks), so a lasting condition costs one write per step, not per chunk.</summary>
        public long RaisedAt = long.MinValue;
    }

    public async Task OnRecordedAsync(IReadOnlyList<DeliveryRecord> records, CancellationToken ct)
    {
        if (!_o.Enabled) return;
        var now = clock.GetUtcNow();
        foreach (var g in records.GroupBy(r => (r.AppId, r.CampaignId)))
        {
            var finished = g.Where(r => r.State is DeliveryStates.Sent or DeliveryStates.Failed).ToList();
            if (finished.Count == 0) continue;
            var failures = finished.Where(r => r.State == DeliveryStates.Failed).Select(r => Reason(r.Reason)).ToList();
            var threshold = failures.Count == 0 ? 1 : (await alerts.ThresholdsAsync(g.Key.AppId, ct)).CampaignFailureRate;
            await CountAsync(g.Key.AppId, $"campaign:{g.Key.CampaignId}", AlertKinds.CampaignFailureRate, g.Key.CampaignId, null,
                finished.Count, failures, threshold, _o.CampaignMinimum, now, ct);
        }
        foreach (var g in records.Where(r => r.Kind is { } k && k != OutcomeKind.ConfigError && r.Provider.Length > 0).GroupBy(r => (r.AppId, r.Provider)))
        {
            var errors = g.Where(r => r.Kind == OutcomeKind.RetryLater).Select(r => Reason(r.Reason)).ToList();
            var threshold = errors.Count == 0 ? 1 : (await alerts.ThresholdsAsync(g.Key.AppId, ct)).ProviderErrorRate;
            await CountAsync(g.Key.AppId, $"provider:{g.Key.Provider}", AlertKinds.ProviderErrorRate, null, g.Key.Provider,
                g.Count(), errors, threshold, _o.ProviderMinimum, now, ct);
        }
    }

    private async Task CountAsync(long appId, string key, string kind, long? campaignId, string? provider, int total, List<string> failures,
        double threshold, int minimum, DateTimeOffset now, CancellationToken ct)
    {
        var t = _windows.GetOrAdd((appId, key), _ => new Tracked(_o.Window));
        t.Window.Add(now, total, failures);
        if (failures.Count == 0) return;
        var s = t.Window.Read(now);
        if (!s.Crosses(threshold, minimum)) return;
        var last = Interlocked.Read(ref t.RaisedAt);
        if (last != long.MinValue && now.UtcTicks - last < t.Window.Step.Ticks) return;
        Interlocked.Exchange(ref t.RaisedAt, now.UtcTicks);
        await alerts.RaiseAsync(appId, kind, key, campaignId, provider, s, threshold, ct);
    }

    /// <summary>Forgets counters with nothing left in their window (finished campaigns).</summary>
    public void Forget()
    {
        var now = clock.GetUtcNow();
        foreach (var (key, t) in _windows)
            if (t.Window.IsEmpty(now)) _windows.TryRemove(key, out _);
    }

    private static string Reason(string? reason) => string.IsNullOrWhiteSpace(reason) ? "unknown" : reason;
}
