using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Herald.Gateways.Fcm;

/// <summary>
/// Writes the messages:send body straight to UTF-8 (no object model, one buffer per thread reused),
/// and refuses what FCM would refuse before a request is spent on it.
/// </summary>
internal static class FcmRequestWriter
{
    /// <summary>FCM's limit on a message; we measure the whole message minus the device token (conservative).</summary>
    public const int MaxMessageBytes = 4096;

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    // Default escaping turns '+', '<', '&' and non-ASCII into \uXXXX; the body is JSON over HTTPS, not HTML.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    /// <summary>Returns the reason FCM would refuse the message, or null with the body written.</summary>
    public static string? TryWrite(string token, PushMessage message, out byte[] body)
    {
        body = [];
        if (string.IsNullOrEmpty(token))
            return "empty FCM registration token";
        if (message.Command is null)
        {
            foreach (var key in message.Data.Keys)
            {
                if (ReservedKey(key) is { } why)
                    return $"data key \"{key}\" is reserved ({why})";
            }
        }

        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(2048);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer);

        var collapseKey = message.CollapseKey ?? message.MessageId;
        writer.WriteStartObject();
        writer.WriteStartObject("message"u8);
        writer.WriteString("token"u8, token);
        var tokenBytes = writer.BytesPending;
        if (message.Command is { } command)
        {
            // Silent command (recall): data only. No notification key, so Android hands it to the app
            // instead of showing anything. Same collapse key: a still-undelivered original is replaced.
            writer.WriteStartObject("data"u8);
            writer.WriteString("herald_cmd"u8, command);
            writer.WriteString("message_id"u8, message.MessageId);
            writer.WriteEndObject();
            WriteAndroid(writer, message, collapseKey, notification: false);
        }
        else
        {
            if (message.Title is not null || message.Body is not null || message.ImageUrl is not null)
            {
                writer.WriteStartObject("notification"u8);
                if (message.Title is not null) writer.WriteString("title"u8, message.Title);
                if (message.Body is not null) writer.WriteString("body"u8, message.Body);
                if (message.ImageUrl is not null) writer.WriteString("image"u8, message.ImageUrl);
                writer.WriteEndObject();
            }
            writer.WriteStartObject("data"u8);
            foreach (var (key, value) in message.Data)
                writer.WriteString(key, value);
            // The SDK tags the notification with this id so opens are attributed and recall can find it.
            writer.WriteString("herald_message_id"u8, message.MessageId);
            if (message.Buttons.Count > 0)
                writer.WriteString("herald_buttons"u8, ButtonsJson(message.Buttons));
            writer.WriteEndObject();
            WriteAndroid(writer, message, collapseKey, notification: true);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.Flush();

        var size = buffer.WrittenCount - tokenBytes;
        if (size > MaxMessageBytes)
            return $"message is {size} bytes without the token; FCM allows {MaxMessageBytes}";
        body = buffer.WrittenSpan.ToArray();
        return null;
    }

    private static void WriteAndroid(Utf8JsonWriter writer, PushMessage message, string collapseKey, bool notification)
    {
        writer.WriteStartObject("android"u8);
        writer.WriteString("collapse_key"u8, collapseKey);
        writer.WriteString("priority"u8, message.Priority == PushPriority.High ? "HIGH"u8 : "NORMAL"u8);
        if (message.TimeToLive is { } ttl)
        {
            Span<byte> seconds = stackalloc byte[24];
            var whole = (long)Math.Max(0, Math.Ceiling(ttl.TotalSeconds));
            whole.TryFormat(seconds, out var n, default, CultureInfo.InvariantCulture);
            seconds[n++] = (byte)'s';
            writer.WriteString("ttl"u8, seconds[..n]);
        }
        if (notification)
        {
            writer.WriteStartObject("notification"u8);
            // Tag = collapse key: a retry replaces rather than duplicates, and recall knows what to cancel.
            writer.WriteString("tag"u8, collapseKey);
            if (message.Url is not null) writer.WriteString("click_action"u8, message.Url);
            if (message.Sound is not null) writer.WriteString("sound"u8, message.Sound);
            if (message.Badge is { } badge) writer.WriteNumber("notification_count"u8, badge);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
    }

    /// <summary>FCM reserves these (HTTP v1 reference, Message.data); Herald reserves its own prefix.</summary>
    internal static string? ReservedKey(string key)
    {
        if (key.Length == 0) return "empty key";
        if (key is "from" or "message_type") return "FCM reserves it";
        if (key.StartsWith("google", StringComparison.OrdinalIgnoreCase) || key.StartsWith("gcm", StringComparison.OrdinalIgnoreCase))
            return "FCM reserves google* and gcm* keys";
        if (key.StartsWith("herald_", StringComparison.Ordinal)) return "Herald's SDK uses herald_* keys";
        return null;
    }

    private static string ButtonsJson(IReadOnlyList<PushButton> buttons)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartArray();
            foreach (var button in buttons)
            {
                writer.WriteStartObject();
                writer.WriteString("id"u8, button.Id);
                writer.WriteString("text"u8, button.Text);
                writer.WriteString("action"u8, button.Action);
                if (button.Target is not null) writer.WriteString("target"u8, button.Target);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
