using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Sim.Providers;
using Herald.Sim.Simulation;

namespace Herald.Sim;

internal static class SimProgram
{
    private const string Usage = """
        herald-sim demo [options]     Herald + loopback FCM/APNs/web push + N simulated devices

          --devices N                 devices to register (default 10000)
          --herald URL --sdk-key K --rest-key R
                                      use a running Herald instead of starting one (it must have been
                                      started with the Herald:Gateways settings printed here for FCM/APNs)
          --seed N                    random seed (default 42)
          --concurrency N             parallel SDK requests while registering (default 32)
          --open-rate X --dismiss-rate X
                                      shares of displayed pushes opened / dismissed (0.3 / 0.4)
          --received-delay S --action-delay S
                                      longest wait before push_received (2 s) and before the open or
                                      dismiss that follows it (30 s); each is drawn uniformly up to it
          --dead-percent P --429-percent P --5xx-percent P --slow-percent P
                                      inject provider failures for P % of devices (default 0)
          --duration S                stop after S seconds (default: run until Ctrl+C)
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] != "demo")
        {
            Console.Error.WriteLine($"unknown command '{args[0]}'\n{Usage}");
            return 2;
        }
        Dictionary<string, string> o;
        try { o = Options(args[1..]); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message + "\n" + Usage);
            return 2;
        }
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        try
        {
            return await DemoAsync(o, cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return 0;
        }
    }

    private static Dictionary<string, string> Options(string[] args)
    {
        var o = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"expected '--name value', got '{args[i]}'");
            o[args[i][2..]] = args[++i];
        }
        return o;
    }

    private static double Num(Dictionary<string, string> o, string name, double fallback) =>
        !o.TryGetValue(name, out var s) ? fallback
        : double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v
        : throw new ArgumentException($"--{name} must be a non-negative number, got '{s}'");

    private static void Log(string line) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");

    private static async Task<int> DemoAsync(Dictionary<string, string> o, CancellationToken ct)
    {
        var options = new SimOptions
        {
            Devices = (int)Num(o, "devices", 10_000),
            Seed = (int)Num(o, "seed", 42),
            Concurrency = Math.Max(1, (int)Num(o, "concurrency", 32)),
            DeadTokenPercent = Num(o, "dead-percent", 0),
            TooManyRequestsPercent = Num(o, "429-percent", 0),
            ServerErrorPercent = Num(o, "5xx-percent", 0),
            SlowPercent = Num(o, "slow-percent", 0),
            Reactions = new ReactionRates
            {
                OpenRate = Num(o, "open-rate", 0.3),
                DismissRate = Num(o, "dismiss-rate", 0.4),
                ReceivedDelayMin = TimeSpan.Zero,
                ReceivedDelayMax = TimeSpan.FromSeconds(Num(o, "received-delay", 2)),
                ActionDelayMin = TimeSpan.Zero,
                ActionDelayMax = TimeSpan.FromSeconds(Num(o, "action-delay", 30)),
            },
        };
        await using var providers = await LoopbackProviders.StartAsync();
        Log($"loopback providers: FCM {providers.Fcm.BaseAddress}, APNs {providers.Apns.BaseAddress}, web push {providers.WebPush.BaseAddress}");

        HeraldProcess? child = null;
        try
        {
            Uri herald;
            string sdkKey, restKey;
            if (o.TryGetValue("herald", out var url))
            {
                herald = new Uri(url);
                sdkKey = o.GetValueOrDefault("sdk-key") ?? throw new ArgumentException("--sdk-key is required with --herald");
                restKey = o.GetValueOrDefault("rest-key") ?? throw new ArgumentException("--rest-key is required with --herald");
                Log("using the running Herald; FCM/APNs sends reach these devices only if it was started with:");
                foreach (var (k, v) in providers.HeraldSettings()) Log($"  --{k}={v}");
            }
            else
            {
                child = await HeraldProcess.StartAsync(providers.HeraldSettings(), Log, ct);
                (herald, sdkKey, restKey) = (child.BaseAddress, child.SdkKey!, child.RestKey!);
                Log($"Herald is up at {herald}  SDK key {sdkKey}  REST key {restKey}");
            }

            using var rest = Client(herald, restKey);
            using var sdk = Client(herald, sdkKey);
            foreach (var (channel, body) in new[] { ("fcm", providers.FcmCredentials), ("apns", providers.ApnsCredentials), ("vapid", LoopbackProviders.VapidCredentials) })
                (await rest.PutAsJsonAsync($"/api/v1/app/credentials/{channel}", body, ct)).EnsureSuccessStatusCode();
            var app = await rest.GetFromJsonAsync<JsonElement>("/api/v1/app", ct);
            var vapid = app.GetProperty("vapidPublicKey").GetString()!;
            Log($"app '{app.GetProperty("name").GetString()}' configured for the loopback FCM, APNs and web push");

            var sim = new DeviceSimulator(sdk, providers, options);
            var started = DateTime.UtcNow;
            await sim.RegisterAsync(vapid, new Progress<int>(n => Log($"registered {n}/{options.Devices} devices")), ct);
            Log($"{options.Devices} devices registered, identified and opened in {(DateTime.UtcNow - started).TotalSeconds:F1} s");

            using var running = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var pump = sim.RunAsync(TimeSpan.FromMilliseconds(200), running.Token);
            var ok = await ShowcaseAsync(sim, rest, ct);

            var duration = o.TryGetValue("duration", out _) ? TimeSpan.FromSeconds(Num(o, "duration", 0)) : Timeout.InfiniteTimeSpan;
            Log(duration == Timeout.InfiniteTimeSpan ? "simulating; Ctrl+C stops" : $"simulating for {duration.TotalSeconds:F0} s");
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (duration != Timeout.InfiniteTimeSpan) stop.CancelAfter(duration);
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await Task.Delay(TimeSpan.FromSeconds(10), stop.Token);
                    Report(sim);
                }
            }
            catch (OperationCanceledException) { }
            await running.CancelAsync();
            await pump;
            await sim.FlushAsync();
            Report(sim);
            return ok ? 0 : 1;
        }
        finally
        {
            if (child is not null) await child.DisposeAsync();
        }
    }

    private static void Report(DeviceSimulator sim)
    {
        var s = sim.Stats;
        Log($"devices {s.Registered}, displayed {s.Displayed}, recalled {s.Recalled}, SDK events sent {s.EventsSent}, event errors {s.EventErrors}");
    }

    // Proves the loop once per platform: the device is visible through the REST API, and a test push
    // reaches the simulated device and comes back as push_received.
    private static async Task<bool> ShowcaseAsync(DeviceSimulator sim, HttpClient rest, CancellationToken ct)
    {
        var ok = true;
        foreach (var platform in new[] { "android", "ios", "web" })
        {
            var device = sim.Devices.FirstOrDefault(d => d.Platform == platform && d.Fault is null);
            if (device is null) continue;
            var view = await rest.GetFromJsonAsync<JsonElement>($"/api/v1/devices/{device.InstallationId}", ct);
            Log($"GET /api/v1/devices/{device.InstallationId} → {platform}, {view.GetProperty("timezone")}, {view.GetProperty("locale")}, pushEnabled {view.GetProperty("pushEnabled")}");
            using var res = await rest.PostAsJsonAsync($"/api/v1/devices/{device.InstallationId}/test-push",
                new { title = "Herald demo", body = $"Merhaba {platform} 👋", url = "https://herald.local/demo" }, ct);
            var outcome = await res.Content.ReadFromJsonAsync<JsonElement>(ct);
            if (!res.IsSuccessStatusCode)
            {
                Log($"test push to {platform} refused: {outcome}");
                ok = false;
                continue;
            }
            var messageId = outcome.GetProperty("messageId").GetString()!;
            Log($"test push {messageId} → {outcome.GetProperty("channel")} answered {outcome.GetProperty("outcome")}");
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(TimeSpan.FromSeconds(15));
            try
            {
                while (!device.Displayed.Contains(messageId)) await Task.Delay(100, wait.Token);
                Log($"  displayed on simulated {platform} device #{device.Index}: \"Herald demo\"");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                Log($"  NOT displayed on the simulated {platform} device within 15 s");
                ok = false;
            }
        }
        return ok;
    }

    private static HttpClient Client(Uri baseAddress, string key)
    {
        var c = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(100) };
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return c;
    }
}
