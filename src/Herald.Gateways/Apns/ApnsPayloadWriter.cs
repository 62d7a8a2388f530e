using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Herald.Gateways.Apns;

/// <summary>Writes the APNs JSON payload straight to UTF-8 and refuses what APNs would refuse.</summary>
internal static class ApnsPayloadWriter
{
    public const int MaxPayloadBytes = 4096;

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    /// <summary>Returns the reason APNs would refuse the payload, or null with the payload written.</summary>
    public static string? TryWrite(PushMessage message, out byte[] payload)
    {
        payload = [];
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(2048);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer);

        writer.WriteStartObject();
        if (message.Command is { } command)
        {
            // Silent background push: iOS wakes the app (best effort, throttled) and the SDK acts.
            writer.WriteStartObject("aps"u8);
            writer.WriteNumber("content-available"u8, 1);
            writer.WriteEndObject();
            writer.WriteString("herald_cmd"u8, command);
            writer.WriteString("message_id"u8, message.MessageId);
        }
        else
        {
            if (message.Title is null && message.Body is null)
                return "an alert push needs a title or a body";
            foreach (var key in message.Data.Keys)
            {
                if (key == "aps")
                    return "data key \"aps\" is reserved (APNs)";
                if (key.StartsWith("herald_", StringComparison.Ordinal))
                    return $"data key \"{key}\" is reserved (Herald's SDK uses herald_* keys)";
            }
            writer.WriteStartObject("aps"u8);
            writer.WriteStartObject("alert"u8);
            if (message.Title is not null) writer.WriteString("title"u8, message.Title);
            if (message.Body is not null) writer.WriteString("body"u8, message.Body);
            writer.WriteEndObject();
            if (message.Badge is { } badge) writer.WriteNumber("badge"u8, badge);
            if (message.Sound is not null) writer.WriteString("sound"u8, message.Sound);
            // The SDK's notification service extension downloads the image; it only runs with this flag.
            if (message.ImageUrl is not null) writer.WriteNumber("mutable-content"u8, 1);
            if (message.Buttons.Count > 0) writer.WriteString("category"u8, Category(message.Buttons));
            writer.WriteEndObject();
            foreach (var (key, value) in message.Data)
                writer.WriteString(key, value);
            writer.WriteString("herald_message_id"u8, message.MessageId);
            if (message.ImageUrl is not null) writer.WriteString("herald_image"u8, message.ImageUrl);
            if (message.Url is not null) writer.WriteString("herald_url"u8, message.Url);
            if (message.Buttons.Count > 0)
            {
                writer.WriteStartArray("herald_buttons"u8);
                foreach (var button in message.Buttons)
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
        }
        writer.WriteEndObject();
        writer.Flush();

        if (buffer.WrittenCount > MaxPayloadBytes)
            return $"payload is {buffer.WrittenCount} bytes; APNs allows {MaxPayloadBytes}";
        payload = buffer.WrittenSpan.ToArray();
        return null;
    }

    /// <summary>The SDK registers a category per button set (from herald_buttons) under this name.</summary>
    internal static string Category(IReadOnlyList<PushButton> buttons)
    {
        var ids = new string[buttons.Count];
        for (var i = 0; i < ids.Length; i++)
            ids[i] = buttons[i].Id;
        return "herald." + string.Join('.', ids);
    }
}
