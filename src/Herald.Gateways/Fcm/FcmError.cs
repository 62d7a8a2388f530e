using System.Text;
using System.Text.Json;

namespace Herald.Gateways.Fcm;

/// <summary>The parts of a google.rpc error body that decide what Herald does.</summary>
internal sealed record FcmError(string? Code, string? Status, string? Message, IReadOnlyList<string> FieldViolations)
{
    private static readonly FcmError Unreadable = new(null, null, null, []);

    /// <summary>FcmError.errorCode wins over the generic status ("NOT_FOUND" says less than "UNREGISTERED").</summary>
    public static FcmError Parse(byte[] body)
    {
        if (body.Length == 0)
            return Unreadable;
        try
        {
            using var json = JsonDocument.Parse(body);
            if (!json.RootElement.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
                return Unreadable;
            var status = error.TryGetProperty("status", out var s) ? s.GetString() : null;
            var message = error.TryGetProperty("message", out var m) ? m.GetString() : null;
            string? errorCode = null;
            var fields = new List<string>();
            if (error.TryGetProperty("details", out var details) && details.ValueKind == JsonValueKind.Array)
            {
                foreach (var detail in details.EnumerateArray())
                {
                    if (detail.ValueKind != JsonValueKind.Object)
                        continue;
                    if (detail.TryGetProperty("errorCode", out var code) && code.ValueKind == JsonValueKind.String)
                        errorCode ??= code.GetString();
                    if (detail.TryGetProperty("fieldViolations", out var violations) && violations.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var violation in violations.EnumerateArray())
                        {
                            if (violation.TryGetProperty("field", out var field) && field.GetString() is { } name)
                                fields.Add(name);
                        }
                    }
                }
            }
            return new FcmError(errorCode ?? status, status, message, fields);
        }
        catch (JsonException)
        {
            return new FcmError(null, null, Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 200))), []);
        }
    }

    public string Describe(int httpStatus)
    {
        var text = new StringBuilder(Code ?? $"HTTP {httpStatus}");
        if (FieldViolations.Count > 0)
            text.Append(" (").AppendJoin(", ", FieldViolations).Append(')');
        if (!string.IsNullOrEmpty(Message))
            text.Append(": ").Append(Message);
        return text.ToString();
    }
}
