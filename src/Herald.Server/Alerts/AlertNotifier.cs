using System.Data.Common;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Dapper;
using Herald.Gateways;
using Herald.Gateways.Email;
using Herald.Server.Delivery;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.Server.Alerts;

/// <summary>The JSON body POSTed to alert webhooks (docs/alerts.md).</summary>
public sealed record AlertWebhookBody(
    long Id, string Kind, string Status, AlertWebhookApp App, AlertWebhookCampaign? Campaign, string? Provider, string Reason,
    IReadOnlyList<Herald.Domain.Alerts.ReasonCount> Reasons, AlertWebhookCounts Counts, double Rate, double? Threshold, int WindowSeconds,
    DateTimeOffset OpenedAt);

/// <summary>The app an alert is about.</summary>
public sealed record AlertWebhookApp(long Id, string Name);

/// <summary>The campaign a failure-rate alert is about.</summary>
public sealed record AlertWebhookCampaign(long Id, string? Name);

/// <summary>Failed out of total in the window when the incident opened.</summary>
public sealed record AlertWebhookCounts(long Failed, long Total);

/// <summary>
/// Delivers each new incident to the app's and the operator's webhook (JSON POST) and email addresses,
/// once: every target handled is written to the incident as it happens, so a retry (or a restart, or
/// another node taking over after the lease) only tries what is left. Failures are retried with
/// doubling waits up to <see cref="AlertOptions.MaxNotifyAttempts"/>. Also resolves quiet incidents.
/// </summary>
public sealed partial class AlertNotifier(Db db, AlertService alerts, AlertMonitor monitor, GatewayRegistry gateways,
    IOptions<AlertOptions> options, TimeProvider clock, ILogger<AlertNotifier> logger) : BackgroundService
{
    /// <summary>Longer than one incident's notifications can take; a node that died mid-way hands the incident back after it.</summary>
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(10);

    private readonly AlertOptions _o = options.Value;
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
    private SmtpEmailGateway? _operatorSmtp;

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
            catch (Exception e) when (e is DbException or NpgsqlException or InvalidOperationException or HttpRequestException)
            {
                // A database error is not "nothing to do": log, wait a poll, try again.
                LogFailed(logger, e);
            }
            try
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
                wait.CancelAfter(_o.Poll);
                await alerts.Wakes.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested) { }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>One round: resolve quiet incidents, then notify everything due.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        await alerts.ResolveQuietAsync(ct);
        await monitor.ForgetAsync(ct);
        for (var ids = await ClaimAsync(ct); ids.Count > 0; ids = await ClaimAsync(ct))
            foreach (var id in ids)
                await NotifyAsync(id, ct);
    }

    private async Task<List<long>> ClaimAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var args = new { now = now.ToUnixTimeMilliseconds(), lease = (now + Lease).ToUnixTimeMilliseconds() };
        await using var conn = await db.OpenAsync(ct);
        const string due = "notified_at IS NULL AND notify_due_at <= @now AND (notify_lease_until IS NULL OR notify_lease_until < @now)";
        var sql = db.IsPostgres
            ? $"""
              UPDATE alerts a SET notify_lease_until = @lease, notify_attempts = a.notify_attempts + 1
              FROM (SELECT id FROM alerts WHERE {due} ORDER BY id LIMIT 20 FOR UPDATE SKIP LOCKED) c
              WHERE a.id = c.id RETURNING a.id
              """
            : $"UPDATE alerts SET notify_lease_until = @lease, notify_attempts = notify_attempts + 1 WHERE id IN (SELECT id FROM alerts WHERE {due} ORDER BY id LIMIT 20) RETURNING id";
        return (await conn.QueryAsync<long>(sql, args)).ToList();
    }

    private async Task NotifyAsync(long id, CancellationToken ct)
    {
        AlertRow row;
        string appName;
        await using (var conn = await db.OpenAsync(ct))
        {
            row = await conn.QuerySingleAsync<AlertRow>($"SELECT {AlertRow.Columns} WHERE a.id = @id", new { id });
            appName = await conn.ExecuteScalarAsync<string>("SELECT name FROM apps WHERE id = @appId", new { appId = row.AppId }) ?? $"app {row.AppId}";
        }
        var settings = await alerts.SettingsAsync(row.AppId, ct);
        var targets = new[] { settings.WebhookUrl, _o.WebhookUrl }.Where(u => !string.IsNullOrWhiteSpace(u)).Distinct(StringComparer.Ordinal).Select(u => "webhook " + u)
            .Concat(settings.Emails.Concat(_o.Emails).Distinct(StringComparer.OrdinalIgnoreCase).Select(e => "email " + e)).ToList();
        // A line is "ok <target>" or "failed <target>: why"; either way the target is not tried again.
        var handled = row.Targets.Select(l => l[(l.IndexOf(' ', StringComparison.Ordinal) + 1)..].Split(": ")[0]).ToHashSet(StringComparer.Ordinal);
        string? lastError = targets.Count == 0 ? "no webhook or email configured for this app or the operator" : null;
        var retry = false;
        foreach (var target in targets.Where(t => !handled.Contains(t)))
        {
            var outcome = target.StartsWith("webhook ", StringComparison.Ordinal)
                ? await PostAsync(target["webhook ".Length..], Body(row, appName), ct)
                : await EmailAsync(row, appName, target["email ".Length..], ct);
            if (outcome.Kind == OutcomeKind.Delivered)
                await AppendAsync(id, $"ok {target}", ct);
            else if (outcome.Kind == OutcomeKind.RetryLater)
            {
                retry = true;
                lastError = $"{target}: {outcome.Reason}";
            }
            else
            {
                lastError = $"{target}: {outcome.Reason}";
                await AppendAsync(id, $"failed {target}: {Clip(outcome.Reason ?? "refused", 300)}", ct);
            }
        }
        var givingUp = retry && row.NotifyAttempts >= _o.MaxNotifyAttempts;
        var now = clock.GetUtcNow();
        var wait = TimeSpan.FromTicks(Math.Min(TimeSpan.FromHours(1).Ticks, _o.RetryDelay.Ticks * (1L << Math.Min(20, row.NotifyAttempts - 1))));
        await using (var conn = await db.OpenAsync(ct))
            await conn.ExecuteAsync(
                "UPDATE alerts SET notify_lease_until = NULL, notify_error = @error, notify_due_at = @due, notified_at = @done WHERE id = @id",
                new
                {
                    id, error = lastError is null ? null : Clip((givingUp ? $"gave up after {row.NotifyAttempts} tries; " : "") + lastError, 500),
                    due = (now + wait).ToUnixTimeMilliseconds(),
                    done = retry && !givingUp ? (long?)null : now.ToUnixTimeMilliseconds(),
                });
        if (retry && !givingUp) LogRetry(logger, id, lastError ?? "", wait);
        else LogNotified(logger, id, row.AppId, targets.Count);
    }

    private async Task AppendAsync(long id, string line, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync("UPDATE alerts SET notified_targets = notified_targets || @line WHERE id = @id", new { id, line = line + "\n" });
    }

    private AlertWebhookBody Body(AlertRow r, string appName) => new(
        r.Id, r.Kind, r.ResolvedAt is null ? "open" : "resolved", new AlertWebhookApp(r.AppId, appName),
        r.CampaignId is { } c ? new AlertWebhookCampaign(c, r.CampaignName) : null, r.Provider, r.Reason, r.ReasonList,
        new AlertWebhookCounts(r.Failed, r.Total), r.ToView().Rate, r.Threshold, (int)_o.Window.TotalSeconds,
        DateTimeOffset.FromUnixTimeMilliseconds(r.OpenedAt));

    private async Task<SendOutcome> PostAsync(string url, AlertWebhookBody body, CancellationToken ct)
    {
        using var timeout = new CancellationTokenSource(_o.WebhookTimeout, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        try
        {
            using var req = new HttpRequestMessage(HttpMethod.Post, url) { Content = JsonContent.Create(body, options: AlertService.Json) };
            req.Headers.Add("X-Herald-Alert-Id", body.Id.ToString(CultureInfo.InvariantCulture));
            using var res = await _http.SendAsync(req, linked.Token);
            var status = (int)res.StatusCode;
            if (res.IsSuccessStatusCode) return SendOutcome.Delivered(null, status);
            // A 4xx other than a timeout or throttle will not get better by trying again.
            return status is >= 400 and < 500 and not 408 and not 429
                ? SendOutcome.Refused($"HTTP {status}", status)
                : SendOutcome.Retry(_o.RetryDelay, $"HTTP {status}", status);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return SendOutcome.Retry(_o.RetryDelay, $"no answer within {_o.WebhookTimeout}");
        }
        catch (HttpRequestException e)
        {
            return SendOutcome.Retry(_o.RetryDelay, "unreachable: " + e.Message);
        }
    }

    private async Task<SendOutcome> EmailAsync(AlertRow r, string appName, string to, CancellationToken ct)
    {
        SmtpEmailGateway gateway;
        string from;
        if (_o.Smtp.Host is { Length: > 0 } host)
        {
            gateway = _operatorSmtp ??= new SmtpEmailGateway(new SmtpOptions
            {
                Host = host, Port = _o.Smtp.Port, EnableSsl = _o.Smtp.StartTls,
                UserName = string.IsNullOrEmpty(_o.Smtp.UserName) ? null : _o.Smtp.UserName, Password = _o.Smtp.Password,
            }, clock);
            from = _o.Smtp.From!;
        }
        else
        {
            try
            {
                var channel = await gateways.EmailAsync(r.AppId, ct);
                (gateway, from) = (channel.Gateway, channel.From);
            }
            catch (ProblemException p) when (p.Status == StatusCodes.Status409Conflict)
            {
                return SendOutcome.Misconfigured($"no SMTP relay: set {AlertOptions.Section}:Smtp or the app's smtp credentials");
            }
        }
        var (subject, text) = Email(r, appName);
        return await gateway.SendAsync(new EmailMessage(to, from, subject, null, text, $"herald-alert-{r.Id}") { FromName = "Herald alerts" }, ct);
    }

    /// <summary>The alert email: subject names the app, what crossed and the rate; the body repeats the webhook's facts.</summary>
    internal (string Subject, string Text) Email(AlertRow r, string appName)
    {
        var rate = r.ToView().Rate.ToString("P0", CultureInfo.InvariantCulture);
        var what = r.Kind switch
        {
            AlertKinds.CampaignFailureRate => $"campaign {r.CampaignId} \"{r.CampaignName}\" failure rate {rate} ({r.Failed}/{r.Total})",
            AlertKinds.ProviderErrorRate => $"{r.Provider} error rate {rate} ({r.Failed}/{r.Total})",
            _ => $"{r.Provider} credentials refused",
        };
        var text = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"App: {appName} ({r.AppId})")
            .AppendLine(CultureInfo.InvariantCulture, $"Alert: {r.Id} {r.Kind}")
            .AppendLine(CultureInfo.InvariantCulture, $"Campaign: {(r.CampaignId is { } c ? $"{c} {r.CampaignName}" : "-")}")
            .AppendLine(CultureInfo.InvariantCulture, $"Provider: {r.Provider ?? "-"}")
            .AppendLine(CultureInfo.InvariantCulture, $"Counts: {r.Failed} failed of {r.Total} ({rate}) in the last {_o.Window}; threshold {(r.Threshold is { } t ? t.ToString("P0", CultureInfo.InvariantCulture) : "-")}")
            .AppendLine(CultureInfo.InvariantCulture, $"Opened: {DateTimeOffset.FromUnixTimeMilliseconds(r.OpenedAt):u}")
            .AppendLine("Reasons:");
        foreach (var reason in r.ReasonList) text.AppendLine(CultureInfo.InvariantCulture, $"  {reason.Count} × {reason.Reason}");
        return ($"[Herald] {appName}: {what}", text.ToString());
    }

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..max];

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Alert notifier failed; retrying")]
    private static partial void LogFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert {Id}: notification failed ({Error}); next try in {Wait}")]
    private static partial void LogRetry(ILogger logger, long id, string error, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Information, Message = "Alert {Id} of app {AppId} notified ({Targets} target(s))")]
    private static partial void LogNotified(ILogger logger, long id, long appId, int targets);
}
