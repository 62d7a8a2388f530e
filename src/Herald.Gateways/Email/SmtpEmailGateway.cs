using System.Net;
using System.Net.Mail;
using System.Net.Mime;
using System.Net.Sockets;
using System.Text;

namespace Herald.Gateways.Email;

/// <summary>
/// Sends email through an SMTP relay with System.Net.Mail (MailKit is not available here). One
/// connection per send: SmtpClient is not thread-safe, and SES limits by rate, not connections.
/// </summary>
public sealed class SmtpEmailGateway
{
    private readonly SmtpOptions _options;
    private readonly TimeProvider _time;

    public SmtpEmailGateway(SmtpOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        Pacer = new EmailPacer(options.Quota, time);
    }

    /// <summary>The quota pacer; the dispatcher may ask it before taking work off the queue.</summary>
    public EmailPacer Pacer { get; }

    /// <summary>
    /// True when the outcome says the recipient address itself is bad (550 / 551 / 553): the caller
    /// suppresses the address, as it does for a permanent bounce.
    /// </summary>
    public static bool SuppressesRecipient(SendOutcome outcome) =>
        outcome.Kind == OutcomeKind.Invalid && outcome.StatusCode is 550 or 551 or 553;

    public async Task<SendOutcome> SendAsync(EmailMessage message, CancellationToken cancellationToken)
    {
        if (message.Html is null && message.Text is null)
            return SendOutcome.Refused("Email has neither an HTML nor a text body.");
        if (!MailAddress.TryCreate(message.To, out var to))
            return SendOutcome.Refused($"Recipient '{message.To}' is not an email address.");
        if (!MailAddress.TryCreate(message.From, message.FromName, out var from))
            return SendOutcome.Refused($"Sender '{message.From}' is not an email address.");

        if (!Pacer.TryAcquire(1, out var wait))
            return SendOutcome.Retry(wait, "Paced under the sending quota; not sent yet.");

        using var mail = Build(message, from, to);
        using var client = new SmtpClient(_options.Host, _options.Port)
        {
            EnableSsl = _options.EnableSsl,
            DeliveryMethod = SmtpDeliveryMethod.Network,
            Credentials = _options.UserName is null ? null : new NetworkCredential(_options.UserName, _options.Password),
            Timeout = (int)Math.Min(int.MaxValue, _options.Timeout.TotalMilliseconds),
        };

        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await client.SendMailAsync(mail, linked.Token).ConfigureAwait(false);
            return SendOutcome.Delivered(null, 250);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return SendOutcome.Retry(_options.TransientRetryAfter, $"SMTP relay did not finish within {_options.Timeout}.");
        }
        catch (SmtpException e)
        {
            return Classify(e, _options.TransientRetryAfter);
        }
        catch (Exception e) when (e is IOException or SocketException or InvalidOperationException)
        {
            return SendOutcome.Retry(_options.TransientRetryAfter, "SMTP relay unreachable: " + e.Message);
        }
    }

    internal static MailMessage Build(EmailMessage message, MailAddress from, MailAddress to)
    {
        var mail = new MailMessage
        {
            From = from,
            Subject = message.Subject,
            SubjectEncoding = Encoding.UTF8,
            HeadersEncoding = Encoding.UTF8,
            BodyEncoding = Encoding.UTF8,
        };
        mail.To.Add(to);
        if (message.ReplyTo is not null) mail.ReplyToList.Add(message.ReplyTo);
        mail.Headers.Add(EmailMessage.MessageIdHeader, message.MessageId);

        if (message.Html is not null && message.Text is not null)
        {
            // multipart/alternative lists the plainest first; clients show the last they understand.
            mail.AlternateViews.Add(View(message.Text, MediaTypeNames.Text.Plain));
            mail.AlternateViews.Add(View(message.Html, MediaTypeNames.Text.Html));
        }
        else
        {
            mail.Body = message.Html ?? message.Text;
            mail.IsBodyHtml = message.Html is not null;
            // Base64 keeps long HTML lines and non-ASCII text intact through any relay.
            mail.BodyTransferEncoding = TransferEncoding.Base64;
        }
        return mail;
    }

    private static AlternateView View(string content, string mediaType)
    {
        var view = AlternateView.CreateAlternateViewFromString(content, Encoding.UTF8, mediaType);
        view.TransferEncoding = TransferEncoding.Base64;
        return view;
    }

    internal static SendOutcome Classify(SmtpException e, TimeSpan transientRetry)
    {
        // When every recipient failed, SmtpClient throws the (first) recipient's failure.
        var code = e is SmtpFailedRecipientsException { InnerExceptions.Length: > 0 } many
            ? (int)many.InnerExceptions[0].StatusCode
            : (int)e.StatusCode;
        string said = $"SMTP {code}: {e.Message}";

        if (code is 530 or 534 or 535 or 538)
            return SendOutcome.Misconfigured("SMTP relay refused our credentials or requires authentication/TLS. " + said, code);
        if (code is >= 400 and < 500)
        {
            if (e.Message.Contains("Daily message quota", StringComparison.OrdinalIgnoreCase))
                return SendOutcome.Retry(TimeSpan.FromHours(1), "Daily sending quota exhausted; requeued. " + said, code);
            if (e.Message.Contains("Maximum sending rate", StringComparison.OrdinalIgnoreCase))
                return SendOutcome.Retry(TimeSpan.FromSeconds(1), "Sending rate exceeded; requeued. " + said, code);
            return SendOutcome.Retry(transientRetry, "Temporary SMTP failure; requeued. " + said, code);
        }
        if (code is 550 or 551 or 553)
            return SendOutcome.Refused("Recipient mailbox unavailable; suppress the address. " + said, code);
        if (code is >= 500 and < 600)
            return SendOutcome.Refused("SMTP relay refused the message. " + said, code);

        // No SMTP reply at all (GeneralFailure): connection refused, dropped or TLS failure.
        return SendOutcome.Retry(transientRetry, "SMTP relay unreachable or the connection failed. " + e.Message + (e.InnerException is { } inner ? " " + inner.Message : ""), null);
    }
}
