using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Herald.Sim.Simulation;

/// <summary>
/// Herald as a child process (<c>dotnet run --project src/Herald.Server</c>) on SQLite in a temporary
/// data folder, for the demo. Reads the demo app's keys from the start-up banner.
/// </summary>
public sealed partial class HeraldProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dataDirectory;

    private HeraldProcess(Process process, string dataDirectory, Uri baseAddress, string sdkKey, string restKey)
    {
        _process = process;
        _dataDirectory = dataDirectory;
        BaseAddress = baseAddress;
        SdkKey = sdkKey;
        RestKey = restKey;
    }

    public Uri BaseAddress { get; }
    public string SdkKey { get; }
    public string RestKey { get; }

    [GeneratedRegex(@"^\s*(SDK|REST) key\s*:\s*(\S+)")]
    private static partial Regex KeyLine();

    public static async Task<HeraldProcess> StartAsync(IReadOnlyDictionary<string, string?> settings, Action<string> log, CancellationToken ct)
    {
        var project = Path.Combine(FindRepositoryRoot(), "src", "Herald.Server");
        var data = Directory.CreateTempSubdirectory("herald-demo-").FullName;
        var port = FreePort();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = data,
        };
        foreach (var a in new[] { "run", "--project", project, "--no-launch-profile", "--" }) psi.ArgumentList.Add(a);
        var all = new Dictionary<string, string?>(settings)
        {
            ["urls"] = $"http://127.0.0.1:{port}",
            ["Herald:Storage:Provider"] = "Sqlite",
            ["Herald:Storage:DataDirectory"] = data,
            ["Herald:Demo:CreateOnFirstStart"] = "true",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in all) psi.ArgumentList.Add($"--{k}={v}");

        log($"starting Herald: dotnet run --project {project} (SQLite in {data}, http://127.0.0.1:{port})");
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

        var running = new HeraldProcessHandle(process, data);
        try
        {
            // The first run builds the server, which can take a minute or two.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromMinutes(5));
            var (sdkKey, restKey) = await keys.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            var address = new Uri($"http://127.0.0.1:{port}");
            using var http = new HttpClient { BaseAddress = address };
            while (true)
            {
                try
                {
                    using var res = await http.GetAsync("/ready", timeout.Token).ConfigureAwait(false);
                    if (res.IsSuccessStatusCode) break;
                }
                catch (HttpRequestException) { }
                await Task.Delay(200, timeout.Token).ConfigureAwait(false);
            }
            return new HeraldProcess(process, data, address, sdkKey, restKey);
        }
        catch
        {
            await running.DisposeAsync().ConfigureAwait(false);
            throw;
        }
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

    public ValueTask DisposeAsync() => new HeraldProcessHandle(_process, _dataDirectory).DisposeAsync();

    // Stops exactly the process this program started (and its children: dotnet run → herald), then removes its data.
    private sealed class HeraldProcessHandle(Process process, string data) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
            }
            process.Dispose();
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }
}
