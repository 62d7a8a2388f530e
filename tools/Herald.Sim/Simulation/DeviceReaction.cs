using System.Text.Json;
using Herald.Sim.Providers;
using Herald.Sim.Providers.WebPush;

namespace Herald.Sim.Simulation;

/// <summary>What arrived at one simulated device, whichever provider carried it.</summary>
public sealed record Notification(string Token, string? MessageId, string? Title, string? Body, string? Command = null, string? CommandTarget = null)
{
    public static Notification FromFcm(FcmReceived r)
    {
        var data = r.Data;
        return new Notification(r.Token ?? "", data.GetValueOrDefault("herald_message_id"), r.Title, r.Body,
            data.GetValueOrDefault("herald_cmd"), data.GetValueOrDefault("message_id"));
    }

    public static Notification FromApns(ApnsReceived r) =>
        new(r.Token, r.Custom("herald_message_id"), r.Title, r.Body, r.Custom("herald_cmd"), r.Custom("message_id"));

    public static Notification FromWebPush(ReceivedPush r)
    {
        using var doc = JsonDocument.Parse(r.Payload);
        var p = doc.RootElement;
        string? S(string name) => p.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return new Notification(r.Endpoint, S("message_id"), S("title"), S("body"));
    }
}

/// <summary>How simulated users treat notifications: shares and delays (delays are drawn uniformly from the range).</summary>
public sealed record ReactionRates
{
    /// <summary>Share of displayed notifications the user opens.</summary>
    public double OpenRate { get; init; } = 0.3;
    /// <summary>
    /// Open rates for notifications with these exact titles, in place of <see cref="OpenRate"/>: users
    /// who prefer one A/B variant's wording to another's.
    /// </summary>
    public IReadOnlyDictionary<string, double>? OpenRateByTitle { get; init; }
    /// <summary>Share the user swipes away; the rest stay in the tray.</summary>
    public double DismissRate { get; init; } = 0.4;
    public TimeSpan ReceivedDelayMin { get; init; } = TimeSpan.FromMilliseconds(50);
    public TimeSpan ReceivedDelayMax { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan ActionDelayMin { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan ActionDelayMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Everything reported at once: for tests, which must not wait.</summary>
    public static ReactionRates Immediate(double openRate, double dismissRate) => new()
    {
        OpenRate = openRate, DismissRate = dismissRate,
        ReceivedDelayMin = TimeSpan.Zero, ReceivedDelayMax = TimeSpan.Zero, ActionDelayMin = TimeSpan.Zero, ActionDelayMax = TimeSpan.Zero,
    };
}

public enum ReactionKind { Display, Recall, Ignore }

/// <summary>An SDK event the device will send, <see cref="After"/> the notification arrived.</summary>
public sealed record PlannedEvent(string Name, TimeSpan After);

public sealed record Reaction(ReactionKind Kind, string? MessageId, IReadOnlyList<PlannedEvent> Events);

/// <summary>
/// A device's reaction to what arrived, as a pure function of the notification and a random source:
/// the simulator runs it and then waits for real, tests run it and check the plan without waiting.
/// </summary>
public static class DeviceReaction
{
    public const string Received = "push_received";
    public const string Opened = "push_opened";
    public const string Dismissed = "push_dismissed";

    public static Reaction React(Notification n, ReactionRates rates, Random rng)
    {
        if (n.Command == "recall")
            return new Reaction(ReactionKind.Recall, n.CommandTarget, []);
        // Another silent command, or a push that is not Herald's: nothing to show or report.
        if (n.Command is not null || n.MessageId is null)
            return new Reaction(ReactionKind.Ignore, n.MessageId, []);

        var received = Between(rates.ReceivedDelayMin, rates.ReceivedDelayMax, rng);
        var events = new List<PlannedEvent> { new(Received, received) };
        var roll = rng.NextDouble();
        var openRate = n.Title is { } title && rates.OpenRateByTitle?.TryGetValue(title, out var byTitle) == true ? byTitle : rates.OpenRate;
        if (roll < openRate)
            events.Add(new PlannedEvent(Opened, received + Between(rates.ActionDelayMin, rates.ActionDelayMax, rng)));
        else if (roll < openRate + rates.DismissRate)
            events.Add(new PlannedEvent(Dismissed, received + Between(rates.ActionDelayMin, rates.ActionDelayMax, rng)));
        return new Reaction(ReactionKind.Display, n.MessageId, events);
    }

    private static TimeSpan Between(TimeSpan min, TimeSpan max, Random rng) =>
        max <= min ? min : min + (max - min) * rng.NextDouble();
}
