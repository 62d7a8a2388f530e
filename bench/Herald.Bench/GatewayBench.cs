using System.Diagnostics;
using System.Globalization;
using Herald.Gateways;
using Herald.Gateways.Fcm;
using Herald.Sim.Providers;

namespace Herald.Bench;

/// <summary>
/// FCM sends through <see cref="FcmGateway"/> against the loopback FCM server, next to a bare
/// SocketsHttpHandler loop posting the very same bodies (same HTTP/2, TLS, concurrency and server)
/// in the same run. Reports the median messages/s of each side and the gateway's share of the peer.
/// Usage: gateway [--messages 200000] [--concurrency 256] [--rounds 5]
/// </summary>
public static class GatewayBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var messages = Option(args, "--messages", 200_000);
        var concurrency = Option(args, "--concurrency", 256);
        var rounds = Option(args, "--rounds", 5);

        await using var server = await LoopbackFcmServer.StartAsync();
        server.RecordRequests = false;
        var credentials = FcmCredentials.FromServiceAccountJson(server.ServiceAccountJson);
        var options = new FcmOptions { BaseAddress = server.BaseAddress, MessagesPerMinute = null };
        options.Http.TrustedCertificate = server.Certificate;
        options.Http.MaxConcurrentRequests = concurrency;
        using var gateway = new FcmGateway(credentials, options);

        var targets = new PushTarget[messages];
        var pushes = new PushMessage[messages];
        var bodies = new byte[messages][];
        for (var i = 0; i < messages; i++)
        {
            targets[i] = new PushTarget($"bench-device-{i:D8}-fcm-registration-token-APA91b{i:x8}");
            pushes[i] = new PushMessage
            {
                MessageId = $"m-{i % 1000}",
                Title = "Spring sale",
                Body = "20% off everything until Sunday — tap to see today's picks",
                ImageUrl = "https://cdn.example.com/sale.png",
                Url = "https://shop.example.com/sale",
                Data = new Dictionary<string, string> { ["campaign"] = "spring-2026", ["variant"] = "b" },
                TimeToLive = TimeSpan.FromHours(6),
                Priority = PushPriority.High,
            };
            if (FcmRequestWriter.TryWrite(targets[i].Token, pushes[i], out bodies[i]) is { } refusal)
                throw new InvalidOperationException(refusal);
        }

        // The peer: a plain pooled HTTP/2 handler and an access token fetched once.
        using var bareHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            SslOptions = { RemoteCertificateValidationCallback = Gateways.Http.ProviderHttp.TrustOnly(server.Certificate) },
        };
        using var bare = new HttpMessageInvoker(bareHandler);
        using var tokens = new FcmAccessTokens(credentials, server.TokenUri, bare, TimeProvider.System, TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30));
        var authorization = (await tokens.GetAsync(CancellationToken.None)).Token!.AuthorizationValue;
        var sendUri = new Uri(server.BaseAddress, $"/v1/projects/{server.ProjectId}/messages:send");

        Task<long> Bare(int count) => Drive(count, concurrency, async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, sendUri)
            {
                Version = new Version(2, 0),
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new ByteArrayContent(bodies[i]),
            };
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=utf-8");
            using var response = await bare.SendAsync(request, CancellationToken.None);
            await response.Content.ReadAsByteArrayAsync();
            return response.IsSuccessStatusCode;
        });

        Task<long> Gateway(int count) => Drive(count, concurrency, async i =>
            (await gateway.SendAsync(targets[i], pushes[i], CancellationToken.None)).Kind == OutcomeKind.Delivered);

        Console.WriteLine($"gateway bench: {messages:N0} FCM sends per side per round, {concurrency} in flight, {rounds} rounds, {Environment.ProcessorCount} cores");
        // Warm up both sides (and the server) until tiered JIT has settled.
        for (var i = 0; i < 3; i++)
        {
            await Bare(Math.Min(messages, 50_000));
            await Gateway(Math.Min(messages, 50_000));
        }

        var bareRates = new List<double>();
        var gatewayRates = new List<double>();
        for (var round = 1; round <= rounds; round++)
        {
            // Alternate which side goes first, so drift on a shared machine does not favour one.
            var sides = new[] { ("bare", (Func<int, Task<long>>)Bare, bareRates), ("gateway", Gateway, gatewayRates) };
            if (round % 2 == 0)
                Array.Reverse(sides);
            foreach (var (name, run, rates) in sides)
            {
                GC.Collect();
                var clock = Stopwatch.StartNew();
                var failed = await run(messages);
                var rate = messages / clock.Elapsed.TotalSeconds;
                rates.Add(rate);
                Console.WriteLine($"  round {round} {name,-8} {rate,10:N0} msg/s  ({clock.Elapsed.TotalSeconds:0.00} s, {failed} not delivered)");
                if (failed > 0)
                    return 1;
            }
        }
        var bareMedian = Median(bareRates);
        var gatewayMedian = Median(gatewayRates);
        // Rounds are paired (back to back), so the median of per-round ratios resists the drift of a shared machine.
        var pairedRatio = Median(gatewayRates.Zip(bareRates, (g, b) => g / b).ToList());
        Console.WriteLine($"median: bare {bareMedian:N0} msg/s, gateway {gatewayMedian:N0} msg/s, ratio {gatewayMedian / bareMedian:0.00}x, median paired ratio {pairedRatio:0.00}x (goal >= 0.80x)");
        Console.WriteLine($"server saw {server.SendRequests:N0} sends and {server.TokenRequests} token requests");

        // Where a gap comes from: the same two loops against an in-memory handler (no network, no
        // server), so only the client-side cost per send is left.
        using var canned = new CannedFcmHandler(server.ProjectId);
        using var cannedInvoker = new HttpMessageInvoker(canned, disposeHandler: false);
        using var cannedGateway = new FcmGateway(credentials, options, handler: canned);
        Task<long> CannedBare(int count) => Drive(count, concurrency, async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, sendUri)
            {
                Version = new Version(2, 0),
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new ByteArrayContent(bodies[i]),
            };
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=utf-8");
            using var response = await cannedInvoker.SendAsync(request, CancellationToken.None);
            await response.Content.ReadAsByteArrayAsync();
            return response.IsSuccessStatusCode;
        });
        Task<long> CannedGateway(int count) => Drive(count, concurrency, async i =>
            (await cannedGateway.SendAsync(targets[i], pushes[i], CancellationToken.None)).Kind == OutcomeKind.Delivered);
        await CannedBare(messages);
        await CannedGateway(messages);
        var cannedBare = new List<double>();
        var cannedGatewayTimes = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            await CannedBare(messages);
            cannedBare.Add(clock.Elapsed.TotalMicroseconds / messages);
            clock.Restart();
            await CannedGateway(messages);
            cannedGatewayTimes.Add(clock.Elapsed.TotalMicroseconds / messages);
        }
        Console.WriteLine($"client-side wall time per send without network (median): bare {Median(cannedBare):0.00} µs, gateway {Median(cannedGatewayTimes):0.00} µs");
        return 0;
    }

    /// <summary>Answers token and send requests from memory.</summary>
    private sealed class CannedFcmHandler(string projectId) : HttpMessageHandler
    {
        private readonly byte[] _sent = System.Text.Encoding.UTF8.GetBytes("{\"name\":\"projects/" + projectId + "/messages/0:1\"}");
        private readonly byte[] _token = """{"access_token":"ya29.canned","expires_in":3600,"token_type":"Bearer"}"""u8.ToArray();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK)
            {
                Content = new ByteArrayContent(request.RequestUri!.AbsolutePath == "/token" ? _token : _sent),
            });
    }

    /// <summary>Runs <paramref name="count"/> sends with <paramref name="concurrency"/> workers; returns how many failed.</summary>
    private static async Task<long> Drive(int count, int concurrency, Func<int, Task<bool>> send)
    {
        var next = -1;
        long failed = 0;
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    if (!await send(i))
                        Interlocked.Increment(ref failed);
                }
            });
        }
        await Task.WhenAll(workers);
        return failed;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
