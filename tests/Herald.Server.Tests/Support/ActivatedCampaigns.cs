using Herald.Sim.Providers;

namespace Herald.Tests.Support;

/// <summary>
/// The campaigns a test activated and the time it started at. The host's clock is shared with the
/// other tests of the collection: on dispose the campaigns stop listening and time goes back.
/// </summary>
public sealed class ActivatedCampaigns(HeraldHost host)
{
    private readonly DateTimeOffset _start = host.Clock.GetUtcNow();
    private readonly List<(TestApp App, long Id)> _activated = [];

    public void Add(TestApp app, long id) => _activated.Add((app, id));

    public async ValueTask DisposeAsync()
    {
        foreach (var (app, id) in _activated)
            (await app.Rest().PostAsync($"/api/v1/campaigns/{id}/stop", Http.Json("{}"))).Dispose();
        host.Clock.Set(_start);
    }
}

/// <summary>Tests that activate triggered campaigns and move the clock: both are undone when the test ends.</summary>
public abstract class AutomatedCampaignTests(HeraldHost host) : IAsyncLifetime
{
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;
    protected HeraldHost Host { get; } = host;
    protected LoopbackProviders P => Host.Providers;
    protected ActivatedCampaigns Activated { get; } = new(host);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await Activated.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
