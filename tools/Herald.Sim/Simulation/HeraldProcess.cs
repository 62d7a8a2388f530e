using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Herald.Sim.Simulation;

/// <summary>
/// The real <c>herald</c> executable as a child process, the way an operator runs it — for the demo,
/// the benchmarks and the crash tests. It runs the <c>herald.dll</c> built next to the calling
/// program when there is one (tests and benchmarks reference the server), else
/// <c>dotnet run --project src/Herald.Server</c>. Settings are passed as environment variables.
/// The demo app's keys are read from the start-up banner.
/// </summary>
public sealed partial class HeraldProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly bool _ownsData;

    private HeraldProcess(Process process, string dataDirectory, bool ownsData, Uri baseAddress, string? sdkKey, string? restKey)
    {
        _process = process;
        DataDirectory = dataDirectory;
        _ownsData = ownsData;
        BaseAddress = baseAddress;
        SdkKey = sdkKey;
        RestKey = restKey;
    }

    public Uri BaseAddress { get; }
    /// <summary>The demo app's keys; null when Herald started on a database that already had apps.</summary>
    public string? SdkKey { get; }
    public string? RestKey { get; }
    public string DataDirectory { get; }

    /// <summary>CPU time the Herald process has used so far (all its threads).</summary>
    public TimeSpan CpuTime
    {
        get { _process.Refresh(); return _process.TotalProcessorTime; }
    }

    [GeneratedRegex(@"^\s*(SDK|REST) key\s*:\s*(\S+)")]
    private static partial Regex KeyLine();

    /// <param name="settings">Configuration keys (e.g. <c>Herald:Storage:Provider</c>) and values.</param>
    /// <param name="log">Where Herald's standard error and progress lines go.</param>
    /// <param name="ct">Cancels the start.</param>
    /// <param name="dataDirectory">SQLite data folder to use (and keep); a fresh temporary one when null.</param>
    /// <param name="expectKeys">Wait for the demo app's keys (a fresh database); false when restarting on existing data.</param>
    public static async Task<HeraldProcess> StartAsync(IReadOnlyDictionary<string, string?> settings, Action<string> log, CancellationToken ct,
        string? dataDirectory = null, bool expectKeys = true)
    {
        var ownsData = dataDirectory is null;
        var data = dataDirectory ?? Directory.CreateTempSubdirectory("herald-").FullName;
        var port = FreePort();
        var dll = Path.Combine(AppContext.BaseDirectory, "herald.dll");
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = data,
        };
        if (File.Exists(dll))
            psi.ArgumentList.Add(dll);
        else
            foreach (var a in new[] { "run", "--project", Path.Combine(FindRepositoryRoot(), "src", "Herald.Server"), "--no-launch-profile" }) psi.ArgumentList.Add(a);
        var all = new Dictionary<string, string?>
        {
            ["Herald:Storage:Provider"] = "Sqlite",
            ["Herald:Storage:DataDirectory"] = data,
            ["Herald:Demo:CreateOnFirstStart"] = "true",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in settings) all[k] = v;
        all["Urls"] = $"http://127.0.0.1:{port}";
        foreach (var (k, v) in all) psi.Environment[k.Replace(":", "__", StringComparison.Ordinal)] = v;

        log($"starting Herald ({(File.Exists(dll) ? dll : "dotnet run")}, data in {data}, http://127.0.0.1:{port})");
        var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start 'dotnet'.");
        var keys = new TaskCompletionSource<(string SdkKey, string RestKey)>(TaskCreationOptions.RunContinuationsAsynchronously);
        string? sdk = null, rest = null;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { keys.TrySetException(new InvalidOperationException("Herald exited before printing its keys.")); return; }
            if (KeyLine().Match(e.Data) is { Success: true } m)
            {
                if (m.Groups[1].Value == "SDK") sdk = m.Groups[2].Value; else rest = m.Groups[2].Value;
                if (sdk is not null && rest is not null) keys.TrySetResult((sdk, rest));
            }
        };
        process.ErrorDataReceived += (_, e) => { if (!string.IsNullOrWhiteSpace(e.Data)) log("herald: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var started = new HeraldProcess(process, data, ownsData, new Uri($"http://127.0.0.1:{port}"), null, null);
        try
        {
            // A first "dotnet run" builds the server, which can take a minute or two.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromMinutes(5));
            (string, string)? k = expectKeys ? await keys.Task.WaitAsync(timeout.Token).ConfigureAwait(false) : null;
            using var http = new HttpClient { BaseAddress = started.BaseAddress };
            while (true)
            {
                if (process.HasExited) throw new InvalidOperationException($"Herald exited with code {process.ExitCode} while starting.");
                try
                {
                    using var res = await http.GetAsync("/ready", timeout.Token).ConfigureAwait(false);
                    if (res.IsSuccessStatusCode) break;
                }
                catch (HttpRequestException) { }
                await Task.Delay(100, timeout.Token).ConfigureAwait(false);
            }
            return new HeraldProcess(process, data, ownsData, started.BaseAddress, k?.Item1, k?.Item2);
        }
        catch
        {
            await started.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>SIGKILL: no graceful shutdown, no drain — a crash. The data folder is kept.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().ConfigureAwait(false);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>The folder holding Herald.slnx, searched upwards from the working directory and then from this program.</summary>
    public static string FindRepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Herald.slnx"))) return dir.FullName;
        throw new InvalidOperationException("Cannot find the Herald repository (Herald.slnx) to start Herald from; run herald-sim inside the repository or pass --herald URL --sdk-key K --rest-key R.");
    }

    /// <summary>Stops exactly the process this started (and its children: dotnet run → herald); removes the data folder it made.</summary>
    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        _process.Dispose();
        if (_ownsData)
            try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { }
    }
}
