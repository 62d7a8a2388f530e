using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Herald.Sim.Providers.Smtp;

public sealed record ReceivedEmailPart(string ContentType, string? Charset, string Content);

/// <summary>One message the SMTP server accepted, as Python's email package decoded it.</summary>
public sealed record ReceivedEmail(
    string MailFrom, IReadOnlyList<string> RcptTos, bool Tls, bool Authenticated, string Subject, string ContentType,
    IReadOnlyDictionary<string, string> Headers, IReadOnlyList<ReceivedEmailPart> Parts, string Raw);

public sealed record SmtpServerSettings(
    int ThrottleFirst = 0, string? ThrottleRcpt = null, string? RejectRcpt = null, string? Auth = null,
    string? TlsCert = null, string? TlsKey = null);

/// <summary>
/// A real SMTP server (Debian's aiosmtpd, driven by herald_smtpd.py, copied to smtp/ in the output) on 127.0.0.1 at a free
/// port, writing what it accepts to a folder the test reads back. SMTP answers 250 to DATA only
/// after the message is on disk, so a delivered send can be read at once.
/// </summary>
public sealed class SmtpTestServer : IAsyncDisposable
{
    public const string Python = "/usr/bin/python3";
    public const string Fix = "apt-get install -y python3-aiosmtpd";

    private readonly Process _process;
    private readonly string _maildir;
    private readonly StringBuilder _stderr;

    private SmtpTestServer(Process process, string maildir, int port, StringBuilder stderr)
    {
        _process = process;
        _maildir = maildir;
        Port = port;
        _stderr = stderr;
    }

    public string Host => "127.0.0.1";

    /// <summary>What the server wrote to stderr (the SMTP dialogue when HERALD_SMTPD_DEBUG is set).</summary>
    public string Log
    {
        get
        {
            lock (_stderr) return _stderr.ToString();
        }
    }
    public int Port { get; }

    public static async Task<SmtpTestServer> StartAsync(SmtpServerSettings? settings = null)
    {
        settings ??= new SmtpServerSettings();
        EnsureAiosmtpd();
        string maildir = Directory.CreateTempSubdirectory("herald-smtp-").FullName;
        var psi = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-B");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "smtp", "herald_smtpd.py"));
        psi.ArgumentList.Add("--maildir");
        psi.ArgumentList.Add(maildir);
        void Opt(string name, object? value)
        {
            if (value is null or 0) return;
            psi.ArgumentList.Add(name);
            psi.ArgumentList.Add(value.ToString()!);
        }
        Opt("--throttle-first", settings.ThrottleFirst);
        Opt("--throttle-rcpt", settings.ThrottleRcpt);
        Opt("--reject-rcpt", settings.RejectRcpt);
        Opt("--auth", settings.Auth);
        Opt("--tlscert", settings.TlsCert);
        Opt("--tlskey", settings.TlsKey);

        var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {Python}.");
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();

        using var startup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string? line;
        try
        {
            line = await process.StandardOutput.ReadLineAsync(startup.Token);
        }
        catch (OperationCanceledException)
        {
            line = null;
        }
        if (line is null || !line.StartsWith("PORT ", StringComparison.Ordinal))
        {
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync();
            string err;
            lock (stderr) err = stderr.ToString();
            throw new InvalidOperationException($"The aiosmtpd test server did not start (said '{line}'). stderr:\n{err}");
        }
        return new SmtpTestServer(process, maildir, int.Parse(line[5..]), stderr);
    }

    private static void EnsureAiosmtpd()
    {
        var psi = new ProcessStartInfo(Python, ["-c", "import aiosmtpd"]) { RedirectStandardError = true, UseShellExecute = false };
        try
        {
            using var check = Process.Start(psi)!;
            check.WaitForExit();
            if (check.ExitCode == 0) return;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException($"{Python} is missing; the SMTP tests need Python 3 with aiosmtpd. Fix: apt-get install -y python3 python3-aiosmtpd");
        }
        throw new InvalidOperationException($"aiosmtpd is not installed for {Python}; the SMTP tests run a real SMTP server with it. Fix: {Fix}");
    }

    public IReadOnlyList<ReceivedEmail> Messages()
    {
        var list = new List<ReceivedEmail>();
        foreach (var file in Directory.GetFiles(_maildir, "*.json").Order(StringComparer.Ordinal))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file, Encoding.UTF8));
            var r = doc.RootElement;
            list.Add(new ReceivedEmail(
                r.GetProperty("mail_from").GetString()!,
                [.. r.GetProperty("rcpt_tos").EnumerateArray().Select(x => x.GetString()!)],
                r.GetProperty("tls").GetBoolean(),
                r.GetProperty("authenticated").GetBoolean(),
                r.GetProperty("subject").GetString()!,
                r.GetProperty("content_type").GetString()!,
                r.GetProperty("headers").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.OrdinalIgnoreCase),
                [.. r.GetProperty("parts").EnumerateArray().Select(p => new ReceivedEmailPart(
                    p.GetProperty("content_type").GetString()!,
                    p.GetProperty("charset").GetString(),
                    p.GetProperty("content").GetString()!))],
                File.ReadAllText(Path.ChangeExtension(file, ".eml"), Encoding.UTF8)));
        }
        return list;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
        }
        _process.Dispose();
        try { Directory.Delete(_maildir, recursive: true); } catch (IOException) { }
    }
}
