using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;

namespace Herald.E2E.Support;

/// <summary>
/// A customer's site on the Herald origin: pages under /site/ are answered by the test (Playwright
/// routes) and embed the SDK exactly as docs/web-sdk.md says, so the SDK, its worker and the page share
/// one loopback origin — a secure context where service workers run.
/// </summary>
public sealed class SdkSite : IAsyncDisposable
{
    private SdkSite(E2EHost host, (long Id, string SdkKey, string RestKey) app, IBrowserContext context)
    {
        Host = host;
        App = app;
        Context = context;
        Rest = host.Client(app.RestKey);
    }

    public E2EHost Host { get; }
    public (long Id, string SdkKey, string RestKey) App { get; }
    public IBrowserContext Context { get; }
    public HttpClient Rest { get; }
    public string Origin => Host.BaseAddress.GetLeftPart(UriPartial.Authority);

    /// <summary>A new app and a fresh browser profile. The opt-in prompt shows at once unless disabled.</summary>
    public static async Task<SdkSite> StartAsync(E2EHost host, bool prompt = false, BrowserNewContextOptions? options = null)
    {
        var app = await host.NewAppAsync();
        var context = await host.Browser.NewContextAsync(options ?? new BrowserNewContextOptions());
        var site = new SdkSite(host, app, context);
        using (var res = await site.Rest.PutAsJsonAsync("/api/v1/app/web-sdk", new
        {
            optInPrompt = new { enabled = prompt, title = "Never miss a deal", text = "Allow notifications for price drops.", acceptText = "Allow", laterText = "Later", delaySeconds = 0, laterDays = 7 },
        }))
            res.EnsureSuccessStatusCode();
        await context.RouteAsync(site.Origin + "/site/**", route => route.FulfillAsync(new RouteFulfillOptions
        {
            ContentType = "text/html; charset=utf-8",
            Body = site.Html(new Uri(route.Request.Url).AbsolutePath),
        }));
        return site;
    }

    public string Url(string pathAndQuery) => Origin + "/site/" + pathAndQuery.TrimStart('/');

    private string Html(string path) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Shop {{path}}</title></head>
        <body style="margin:0;font-family:sans-serif">
          <main id="content" style="padding:24px"><h1>Page {{path}}</h1><p>Content that must not move when Herald shows something.</p>
            <button id="buy">Buy</button></main>
          <script src="/sdk/web/herald.js"></script>
          <script>herald.init({ appKey: "{{App.SdkKey}}" });</script>
        </body></html>
        """;

    /// <summary>Opens a page and waits until the SDK has its configuration, device and widgets.</summary>
    public async Task<IPage> OpenAsync(string pathAndQuery, IPage? page = null)
    {
        page ??= await Context.NewPageAsync();
        await page.GotoAsync(Url(pathAndQuery));
        await page.EvaluateAsync("() => herald.ready()");
        return page;
    }

    public static Task<string> InstallationIdAsync(IPage page) =>
        page.WaitForFunctionAsync("() => herald.installationId").ContinueWith(t => t.Result.JsonValueAsync<string>()).Unwrap();

    /// <summary>Polls Herald (bounded) until the events of a device or user satisfy <paramref name="done"/>.</summary>
    public async Task<IReadOnlyList<JsonElement>> EventsAsync(string path, Func<IReadOnlyList<JsonElement>, bool> done, int timeoutMs = 15000)
    {
        var until = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        IReadOnlyList<JsonElement> events = [];
        while (true)
        {
            using var res = await Rest.GetAsync(path + "?limit=1000");
            if (res.IsSuccessStatusCode)
            {
                events = [.. (await res.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()];
                if (done(events)) return events;
            }
            if (DateTime.UtcNow > until)
                throw new TimeoutException($"Events at {path} did not arrive in {timeoutMs} ms; got: {string.Join(", ", events.Select(e => e.GetProperty("name").GetString()))}");
            await Task.Delay(100);
        }
    }

    public Task<IReadOnlyList<JsonElement>> DeviceEventsAsync(string installationId, params string[] names) =>
        EventsAsync($"/api/v1/devices/{installationId}/events", e => names.All(n => e.Any(x => Name(x) == n)));

    public static string Name(JsonElement e) => e.GetProperty("name").GetString()!;

    public static IEnumerable<JsonElement> Named(IEnumerable<JsonElement> events, string name) => events.Where(e => Name(e) == name);

    public async Task ScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(E2EHost.Artifacts, name + ".png") });

    public async ValueTask DisposeAsync()
    {
        Rest.Dispose();
        await Context.DisposeAsync();
    }
}
