using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Herald.Bench;

/// <summary>The real <c>herald</c> executable as a separate process, the way an operator runs it.</summary>
public sealed partial class HeraldProcess : IAsyncDisposable
{
    private readonly Process _process;
    public Uri BaseAddress { get; }
    public string SdkKey { get; }
    public string RestKey { get; }

    private HeraldProcess(Process p, Uri address, string sdk, string rest)
    {
        _process = p;
        BaseAddress = address;
        SdkKey = sdk;
        RestKey = rest;
    }

    public static async Task<HeraldProcess> StartAsync(IDictionary<string, string> settings)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "herald.dll");
        var port = FreePort();
        var psi = new ProcessStartInfo("dotnet", $"\"{dll}\" --urls http://127.0.0.1:{port}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["Logging__LogLevel__Herald.Server.Ingest.IngestWriter"] = Environment.GetEnvironmentVariable("HERALD_BENCH_WRITER_LOG") ?? "Warning";
        psi.Environment["Logging__Console__LogToStandardErrorThreshold"] = "Trace";
        foreach (var (k, v) in settings) psi.Environment[k.Replace(":", "__", StringComparison.Ordinal)] = v;
        var p = Process.Start(psi)!;
        string? sdk = null, rest = null;
        var ready = new TaskCompletionSource();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            if (SdkLine().Match(e.Data) is { Success: true } s) sdk = s.Groups[1].Value;
            if (RestLine().Match(e.Data) is { Success: true } r) rest = r.Groups[1].Value;
            if (sdk is not null && rest is not null) ready.TrySetResult();
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[herald] {e.Data}"); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var done = await Task.WhenAny(ready.Task, p.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (done != ready.Task) throw new InvalidOperationException("herald did not start (no keys printed within 60 s)");
        var address = new Uri($"http://127.0.0.1:{port}");
        using var http = new HttpClient();
        for (var i = 0; i < 100; i++)
        {
            try { if ((await http.GetAsync(new Uri(address, "/ready"))).IsSuccessStatusCode) break; }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        return new HeraldProcess(p, address, sdk!, rest!);
    }

    /// <summary>CPU time the Herald process has used so far (all its threads).</summary>
    public TimeSpan CpuTime
    {
        get { _process.Refresh(); return _process.TotalProcessorTime; }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"SDK key\s*:\s*(\S+)")]
    private static partial Regex SdkLine();

    [GeneratedRegex(@"REST key\s*:\s*(\S+)")]
    private static partial Regex RestLine();
}
