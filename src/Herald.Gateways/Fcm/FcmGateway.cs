using System.Text.Json;
using Herald.Gateways.Http;

namespace Herald.Gateways.Fcm;

/// <summary>
/// Firebase Cloud Messaging HTTP v1, one instance per service account (project). One request per
/// message over pooled HTTP/2 connections: the batch endpoint is gone.
/// </summary>
public sealed class FcmGateway : IPushGateway, IDisposable
{
    private static readonly Version Http2 = new(2, 0);
    private static readonly TimeSpan QuotaFirstDelay = TimeSpan.FromMinutes(1);

    private readonly FcmCredentials _credentials;
    private readonly Uri _sendUri;
    private readonly HttpMessageInvoker _http;
    private readonly FcmAccessTokens _tokens;
    private readonly SendGuard _guard;
    private readonly TimeProvider _time;
    private readonly TimeSpan _timeout;

    /// <param name="credentials">The service account.</param>
    /// <param name="options">Defaults to the real FCM service.</param>
    /// <param name="time">Clock for token expiry and pacing.</param>
    /// <param name="handler">Share one handler between gateways if wanted; by default each gateway pools its own.</param>
    public FcmGateway(FcmCredentials credentials, FcmOptions? options = null, TimeProvider? time = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        options ??= new FcmOptions();
        options.Validate();
        _credentials = credentials;
        _time = time ?? TimeProvider.System;
        _timeout = options.Http.RequestTimeout;
        _sendUri = new Uri(options.BaseAddress, $"/v1/projects/{Uri.EscapeDataString(credentials.ProjectId)}/messages:send");
        _http = new HttpMessageInvoker(handler ?? ProviderHttp.CreateHandler(options.Http), disposeHandler: handler is null);
        _tokens = new FcmAccessTokens(credentials, options.TokenUri ?? credentials.TokenUri, _http, _time, options.AccessTokenRefreshMargin, _timeout);
        var quota = options.MessagesPerMinute is { } perMinute ? new TokenBucket(perMinute, TimeSpan.FromMinutes(1), time: _time) : null;
        _guard = new SendGuard(options.Http, quota, _time);
    }

    /// <summary>OAuth token requests made so far.</summary>
    public int AccessTokenRequests => _tokens.Requests;

    /// <summary>The back-off before retry number <paramref name="attempt"/> of a RetryLater outcome:
    /// QUOTA_EXCEEDED starts at ≥ 1 minute, 5xx at Retry-After or 1 s, both doubling.</summary>
    public static TimeSpan RetryDelay(SendOutcome outcome, int attempt) => Backoff.ForAttempt(outcome, attempt);

    public Task<SendOutcome> SendAsync(PushTarget target, PushMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(message);
        if (FcmRequestWriter.TryWrite(target.Token, message, out var body) is { } refusal)
            return Task.FromResult(SendOutcome.Refused(refusal));
        return _guard.RunAsync(static (state, ct) => state.Self.SendOnceAsync(state.Body, ct), (Self: this, Body: body), cancellationToken);
    }

    private async ValueTask<SendOutcome> SendOnceAsync(byte[] body, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var (token, failure) = await _tokens.GetAsync(cancellationToken).ConfigureAwait(false);
            if (failure is not null)
                return failure;
            using var request = new HttpRequestMessage(HttpMethod.Post, _sendUri)
            {
                Version = Http2,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new ByteArrayContent(body),
            };
            // Without validation: the values are ours and constant, and parsing them per request costs.
            request.Headers.TryAddWithoutValidation("Authorization", token!.AuthorizationValue);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=utf-8");

            var (answer, networkFailure) = await ProviderCall.SendAsync(_http, request, _timeout, cancellationToken).ConfigureAwait(false);
            if (networkFailure is not null)
                return networkFailure;
            if (answer.Status == 200)
                return SendOutcome.Delivered(ReadName(answer.Body), 200);

            var error = FcmError.Parse(answer.Body);
            // Our access token was refused (revoked, clock skew): fetch a fresh one once before
            // calling it a configuration error.
            if (answer.Status == 401 && error.Code != "THIRD_PARTY_AUTH_ERROR" && attempt == 0)
            {
                _tokens.Invalidate(token);
                continue;
            }
            return Classify(answer, error);
        }
    }

    private SendOutcome Classify(ProviderAnswer answer, FcmError error)
    {
        var status = answer.Status;
        var reason = error.Describe(status);
        switch (error.Code)
        {
            case "UNREGISTERED":
                return SendOutcome.Dead(reason, status);
            case "INVALID_ARGUMENT":
                // A malformed token will never work: treat it like an unregistered one. Anything
                // else wrong in the message is the message's fault, not the device's.
                return error.FieldViolations.Contains("message.token")
                    ? SendOutcome.Dead(reason, status)
                    : SendOutcome.Refused(reason, status);
            case "SENDER_ID_MISMATCH":
                return SendOutcome.Refused(reason, status);
            case "QUOTA_EXCEEDED":
                return QuotaRetry(answer, reason);
            case "UNAVAILABLE" or "INTERNAL":
                return TransientRetry(answer, reason);
            case "THIRD_PARTY_AUTH_ERROR" or "UNAUTHENTICATED" or "PERMISSION_DENIED":
                return SendOutcome.Misconfigured(reason, status);
        }
        return status switch
        {
            429 => QuotaRetry(answer, reason),
            >= 500 => TransientRetry(answer, reason),
            401 or 403 => SendOutcome.Misconfigured(reason, status),
            // A bare 404 (no UNREGISTERED code) means the project or path is wrong, not the device.
            404 => SendOutcome.Misconfigured(reason + $" (is project \"{_credentials.ProjectId}\" right?)", status),
            _ => SendOutcome.Refused(reason, status),
        };
    }

    private SendOutcome QuotaRetry(ProviderAnswer answer, string reason)
    {
        var hinted = ProviderCall.RetryAfter(answer.Headers, _time) ?? TimeSpan.Zero;
        var first = hinted > QuotaFirstDelay ? hinted : QuotaFirstDelay;
        return SendOutcome.Retry(Backoff.Exponential(first, 1), reason, answer.Status);
    }

    private SendOutcome TransientRetry(ProviderAnswer answer, string reason) =>
        SendOutcome.Retry(ProviderCall.RetryAfter(answer.Headers, _time) ?? Backoff.Exponential(TimeSpan.FromSeconds(1), 1), reason, answer.Status);

    private static string? ReadName(byte[] body)
    {
        var reader = new Utf8JsonReader(body);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("name"u8) && reader.Read())
                return reader.GetString();
        }
        return null;
    }

    public void Dispose()
    {
        _guard.Dispose();
        _tokens.Dispose();
        _http.Dispose();
    }
}
