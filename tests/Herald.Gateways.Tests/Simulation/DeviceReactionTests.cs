using System.Text.Json;
using Herald.Sim.Providers;
using Herald.Sim.Simulation;

namespace Herald.Gateways.Tests.Simulation;

/// <summary>The simulated user's behaviour, checked as a plan: no waiting.</summary>
public sealed class DeviceReactionTests
{
    private static readonly Notification Shown = new("tok", "m-1", "Merhaba", "Sepetiniz");
    private static readonly ReactionRates Slowish = new()
    {
        OpenRate = 0.3, DismissRate = 0.4,
        ReceivedDelayMin = TimeSpan.FromMilliseconds(100), ReceivedDelayMax = TimeSpan.FromSeconds(1),
        ActionDelayMin = TimeSpan.FromSeconds(2), ActionDelayMax = TimeSpan.FromSeconds(20),
    };

    [Fact]
    public void A_recall_command_removes_the_named_message_and_reports_nothing()
    {
        var r = DeviceReaction.React(new Notification("tok", null, null, null, "recall", "m-1"), Slowish, new Random(1));
        r.Kind.ShouldBe(ReactionKind.Recall);
        r.MessageId.ShouldBe("m-1");
        r.Events.ShouldBeEmpty();
    }

    [Fact]
    public void Other_commands_and_foreign_pushes_are_ignored()
    {
        DeviceReaction.React(new Notification("tok", "m", null, null, "sync"), Slowish, new Random(1)).Kind.ShouldBe(ReactionKind.Ignore);
        DeviceReaction.React(new Notification("tok", null, "t", "b"), Slowish, new Random(1)).Kind.ShouldBe(ReactionKind.Ignore);
    }

    [Fact]
    public void Open_rates_by_title_let_one_variant_open_more_than_another()
    {
        var rates = Slowish with { OpenRate = 0.5, DismissRate = 0, OpenRateByTitle = new Dictionary<string, double> { ["A"] = 0, ["B"] = 1 } };
        int Opens(string? title) => Enumerable.Range(0, 200).Count(i =>
            DeviceReaction.React(new Notification("tok", $"m-{i}", title, "b"), rates, new Random(i)).Events.Any(e => e.Name == DeviceReaction.Opened));
        Opens("A").ShouldBe(0);
        Opens("B").ShouldBe(200);
        Opens("other").ShouldBeInRange(60, 140); // the general rate for titles not listed
    }

    [Theory]
    [InlineData(1.0, 0.0, "push_opened")]
    [InlineData(0.0, 1.0, "push_dismissed")]
    [InlineData(0.0, 0.0, null)]
    public void A_shown_push_is_reported_received_then_opened_dismissed_or_left(double open, double dismiss, string? then)
    {
        var r = DeviceReaction.React(Shown, Slowish with { OpenRate = open, DismissRate = dismiss }, new Random(7));
        r.Kind.ShouldBe(ReactionKind.Display);
        r.MessageId.ShouldBe("m-1");
        r.Events[0].Name.ShouldBe("push_received");
        r.Events[0].After.ShouldBeInRange(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
        if (then is null)
        {
            r.Events.Count.ShouldBe(1);
            return;
        }
        r.Events.Count.ShouldBe(2);
        r.Events[1].Name.ShouldBe(then);
        (r.Events[1].After - r.Events[0].After).ShouldBeInRange(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public void Rates_hold_over_many_users_and_a_seed_replays_exactly()
    {
        var rng = new Random(42);
        var plans = Enumerable.Range(0, 20_000).Select(_ => DeviceReaction.React(Shown, Slowish, rng)).ToList();
        double Share(string name) => plans.Count(p => p.Events.Any(e => e.Name == name)) / (double)plans.Count;
        Share("push_received").ShouldBe(1.0);
        Share("push_opened").ShouldBe(0.3, 0.015);
        Share("push_dismissed").ShouldBe(0.4, 0.015);

        var again = new Random(42);
        Enumerable.Range(0, 100).SelectMany(_ => DeviceReaction.React(Shown, Slowish, again).Events)
            .ShouldBe(plans.Take(100).SelectMany(p => p.Events));
    }

    [Fact]
    public void Immediate_rates_plan_everything_at_once()
    {
        var r = DeviceReaction.React(Shown, ReactionRates.Immediate(1, 0), new Random(3));
        r.Events.Select(e => e.After).ShouldAllBe(a => a == TimeSpan.Zero);
    }

    [Fact]
    public void Provider_records_become_notifications()
    {
        using var fcm = JsonDocument.Parse("""{"token":"t1","data":{"herald_cmd":"recall","message_id":"m-9"}}""");
        var n = Notification.FromFcm(new FcmReceived("t1", null, fcm.RootElement));
        (n.Command, n.CommandTarget, n.MessageId).ShouldBe(("recall", "m-9", (string?)null));

        using var shown = JsonDocument.Parse("""{"token":"t2","notification":{"title":"T","body":"B"},"data":{"herald_message_id":"m-1"}}""");
        var s = Notification.FromFcm(new FcmReceived("t2", null, shown.RootElement));
        (s.MessageId, s.Title, s.Body, s.Command).ShouldBe(("m-1", "T", "B", (string?)null));

        using var apns = JsonDocument.Parse("""{"aps":{"alert":{"title":"T","body":"B"}},"herald_message_id":"m-2"}""");
        var a = Notification.FromApns(new ApnsReceived("a1", new Dictionary<string, string>(), apns.RootElement));
        (a.MessageId, a.Title).ShouldBe(("m-2", "T"));
    }
}
