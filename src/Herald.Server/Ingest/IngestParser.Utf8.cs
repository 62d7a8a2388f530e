using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Herald.Server.Ingest;

/// <summary>
/// The fast path for the Herald SDK's event batches: one forward pass of a <see cref="Utf8JsonReader"/>
/// over the request bytes, with the attributes kept as a slice of those bytes (they are only stored).
/// It accepts exactly the batches in which every item is valid and nothing is ambiguous (no repeated
/// fields); for anything else it returns false and the caller parses the request again through
/// <see cref="HeraldEvents(JsonElement)"/>, which names every problem. So what is accepted, what is
/// stored and every error message are the same on both paths.
/// </summary>
public sealed partial class IngestParser
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 32 };

    /// <summary>Parses a whole valid SDK batch into <see cref="Ops"/>; false (and nothing added) when the slow path must decide.</summary>
    public bool TryHeraldEventsUtf8(ReadOnlyMemory<byte> body)
    {
        var parsed = new List<RawEvent>();
        try
        {
            if (!ReadBatch(body, parsed, out var installationId, out var sentAt)) return false;
            var ops = new List<IngestOp>(parsed.Count);
            for (var i = 0; i < parsed.Count; i++)
            {
                if (Finish(parsed[i], installationId, sentAt, body) is not { } ev) return false;
                ops.Add(new EventOp(i, ev));
            }
            Ops.AddRange(ops);
            return true;
        }
        catch (JsonException) { return false; }
        catch (InvalidOperationException) { return false; }
        catch (FormatException) { return false; }
    }

    private bool ReadBatch(ReadOnlyMemory<byte> body, List<RawEvent> parsed, out string installationId, out long? sentAt)
    {
        installationId = null!;
        sentAt = null;
        var reader = new Utf8JsonReader(body.Span, ReaderOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
        bool seenInstallation = false, seenSentAt = false, seenEvents = false;
        string? inst = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("installationId"u8))
            {
                if (seenInstallation) return false;
                seenInstallation = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.String) return false;
                inst = reader.GetString()!;
                if (inst.Length > 64) return false;
            }
            else if (reader.ValueTextEquals("sentAt"u8))
            {
                if (seenSentAt) return false;
                seenSentAt = true;
                reader.Read();
                if (!ReadTime(ref reader, out sentAt)) return false;
            }
            else if (reader.ValueTextEquals("events"u8))
            {
                if (seenEvents) return false;
                seenEvents = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray) return false;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (!ReadEvent(ref reader, out var e)) return false;
                    parsed.Add(e);
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read()) return false;
        if (!seenEvents || inst is null) return false;
        installationId = inst;
        return true;
    }

    /// <summary>One event object, as read; the reader ends on its closing brace.</summary>
    private struct RawEvent
    {
        public string MessageId;
        public string Name;
        public long Timestamp;
        public int PropsStart, PropsLength; // PropsLength 0: no attributes object
        public double? Revenue;
        public string? Currency;
        public Utm? Utm;
        public string? Url;
        public double? Amount;
        public string? PropsCurrency;
        public string? MessageRef;
    }

    private bool ReadEvent(ref Utf8JsonReader reader, out RawEvent e)
    {
        e = default;
        if (reader.TokenType != JsonTokenType.StartObject) return false;
        bool seenId = false, seenName = false, seenTs = false, seenAttrs = false, seenRevenue = false, seenUtm = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("messageId"u8))
            {
                if (seenId) return false;
                seenId = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.String) return false;
                e.MessageId = reader.GetString()!;
                if (e.MessageId.Length > 128) return false;
            }
            else if (reader.ValueTextEquals("name"u8))
            {
                if (seenName) return false;
                seenName = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.String) return false;
                e.Name = reader.GetString()!;
                if (e.Name.Length > o.MaxNameLength || string.IsNullOrWhiteSpace(e.Name)) return false;
            }
            else if (reader.ValueTextEquals("timestamp"u8))
            {
                if (seenTs) return false;
                seenTs = true;
                reader.Read();
                if (!ReadTime(ref reader, out var ts) || ts is null) return false;
                e.Timestamp = ts.Value;
            }
            else if (reader.ValueTextEquals("attributes"u8))
            {
                if (seenAttrs) return false;
                seenAttrs = true;
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (reader.TokenType != JsonTokenType.StartObject) return false;
                if (!ReadAttributes(ref reader, ref e)) return false;
            }
            else if (reader.ValueTextEquals("revenue"u8))
            {
                if (seenRevenue) return false;
                seenRevenue = true;
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (!ReadRevenue(ref reader, ref e)) return false;
            }
            else if (reader.ValueTextEquals("utm"u8))
            {
                if (seenUtm) return false;
                seenUtm = true;
                reader.Read();
                if (!ReadUtm(ref reader, out var utm)) return false;
                e.Utm = utm;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return reader.TokenType == JsonTokenType.EndObject && seenId && seenName && seenTs;
    }

    /// <summary>The attribute rules of <see cref="Attributes.ValidateProperties"/>, read in passing.</summary>
    private bool ReadAttributes(ref Utf8JsonReader reader, ref RawEvent e)
    {
        var start = (int)reader.TokenStartIndex;
        var depth = reader.CurrentDepth;
        var count = 0;
        bool seenUrl = false, seenAmount = false, seenCurrency = false, seenMessageId = false;
        string? messageRef = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (++count > o.MaxAttributes) return false;
            var nameLength = reader.ValueIsEscaped ? reader.GetString()!.Length : Encoding.UTF8.GetCharCount(reader.ValueSpan);
            if (nameLength == 0 || nameLength > o.MaxNameLength) return false;
            var which = Which(ref reader);
            switch (which)
            {
                case Known.Url when seenUrl: return false;
                case Known.Url: seenUrl = true; break;
                case Known.Amount when seenAmount: return false;
                case Known.Amount: seenAmount = true; break;
                case Known.Currency when seenCurrency: return false;
                case Known.Currency: seenCurrency = true; break;
                case Known.MessageId when seenMessageId: return false;
                case Known.MessageId: seenMessageId = true; break;
            }
            reader.Read();
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    if (!StringWithin(ref reader, o.MaxStringLength)) return false;
                    switch (which)
                    {
                        case Known.Url: e.Url = reader.GetString(); break;
                        case Known.Currency: e.PropsCurrency = reader.GetString(); break;
                        case Known.MessageId: messageRef = reader.GetString(); break;
                    }
                    break;
                case JsonTokenType.Number:
                    if (!reader.TryGetDouble(out var d) || !double.IsFinite(d) || Math.Abs(d) > o.MaxNumberMagnitude) return false;
                    if (which == Known.Amount) e.Amount = d;
                    break;
                case JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null:
                    break;
                case JsonTokenType.StartArray:
                    var n = 0;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (++n > o.MaxListItems) return false;
                        if (reader.TokenType == JsonTokenType.String) { if (!StringWithin(ref reader, o.MaxListItemLength)) return false; }
                        else reader.Skip();
                    }
                    break;
                case JsonTokenType.StartObject:
                    reader.Skip();
                    break;
                default:
                    return false;
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != depth) return false;
        e.PropsStart = start;
        e.PropsLength = (int)reader.BytesConsumed - start;
        // StoredEvent.MessageRefOf: a top-level string "message_id", looked for only when the text names it literally.
        e.MessageRef = messageRef;
        return true;
    }

    private enum Known { None, Url, Amount, Currency, MessageId }

    private static Known Which(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped && reader.ValueSpan.Length is not (3 or 6 or 8 or 10)) return Known.None;
        if (reader.ValueTextEquals("url"u8)) return Known.Url;
        if (reader.ValueTextEquals("amount"u8)) return Known.Amount;
        if (reader.ValueTextEquals("currency"u8)) return Known.Currency;
        if (reader.ValueTextEquals("message_id"u8)) return Known.MessageId;
        return Known.None;
    }

    /// <summary>Whether the current string token is at most <paramref name="max"/> UTF-16 characters once unescaped.</summary>
    private static bool StringWithin(ref Utf8JsonReader reader, int max)
    {
        if (reader.ValueIsEscaped) return reader.GetString()!.Length <= max;
        var span = reader.ValueSpan;
        // A UTF-8 byte is at most one UTF-16 character.
        return span.Length <= max || Encoding.UTF8.GetCharCount(span) <= max;
    }

    private bool ReadRevenue(ref Utf8JsonReader reader, ref RawEvent e)
    {
        if (reader.TokenType != JsonTokenType.StartObject) return false;
        bool seenAmount = false, seenCurrency = false;
        double? amount = null;
        string? currency = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("amount"u8))
            {
                if (seenAmount) return false;
                seenAmount = true;
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var d)) return false;
                if (d < -o.MaxNumberMagnitude || d > o.MaxNumberMagnitude) return false;
                amount = d;
            }
            else if (reader.ValueTextEquals("currency"u8))
            {
                if (seenCurrency) return false;
                seenCurrency = true;
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (reader.TokenType != JsonTokenType.String) return false;
                currency = reader.GetString()!;
                if (currency.Length > 3) return false;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (amount is null || !IsCurrency(currency ??= "USD")) return false;
        e.Revenue = amount;
        e.Currency = currency.ToUpperInvariant();
        return true;
    }

    private static bool ReadUtm(ref Utf8JsonReader reader, out Utm utm)
    {
        utm = Utm.None;
        if (reader.TokenType != JsonTokenType.StartObject) return false;
        string? source = null, medium = null, campaign = null, term = null, content = null;
        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var bit = reader.ValueTextEquals("source"u8) ? 1 : reader.ValueTextEquals("medium"u8) ? 2 : reader.ValueTextEquals("campaign"u8) ? 4
                : reader.ValueTextEquals("term"u8) ? 8 : reader.ValueTextEquals("content"u8) ? 16 : 0;
            if ((seen & bit) != 0) return false;
            seen |= bit;
            reader.Read();
            if (bit == 0 || reader.TokenType != JsonTokenType.String)
            {
                reader.Skip();
                continue;
            }
            var s = Trunc(reader.GetString()!);
            switch (bit)
            {
                case 1: source = s; break;
                case 2: medium = s; break;
                case 4: campaign = s; break;
                case 8: term = s; break;
                default: content = s; break;
            }
        }
        utm = new Utm(source, medium, campaign, term, content);
        return reader.TokenType == JsonTokenType.EndObject;
    }

    private static bool ReadTime(ref Utf8JsonReader reader, out long? ms)
    {
        ms = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.Number when reader.TryGetInt64(out var n) && n > 0:
                ms = n;
                return true;
            case JsonTokenType.String when DateTimeOffset.TryParse(reader.GetString(), CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t):
                ms = t.ToUnixTimeMilliseconds();
                return true;
            default:
                return false;
        }
    }

    /// <summary>What <c>Event</c> does after reading: skew correction, time limits, purchase revenue, UTM from the url.</summary>
    private EventInput? Finish(in RawEvent e, string installationId, long? sentAt, ReadOnlyMemory<byte> body)
    {
        var occurred = sentAt is { } s ? receivedAt - (s - e.Timestamp) : e.Timestamp;
        if (occurred > receivedAt + (long)o.MaxFutureSkew.TotalMilliseconds) return null;
        if (occurred < receivedAt - (long)o.MaxEventAge.TotalMilliseconds) return null;
        var hasProps = e.PropsLength > 0;
        double? revenue = e.Revenue;
        var currency = e.Currency;
        if (e.Name == BuiltInEvents.Purchase && revenue is null && hasProps && e.Amount is { } amount)
        {
            revenue = amount;
            if (e.PropsCurrency is { } c)
            {
                if (!IsCurrency(c)) return null;
                currency = c.ToUpperInvariant();
            }
            else currency = "USD";
        }
        var utm = e.Utm ?? Utm.None;
        if (utm.IsEmpty && e.Url is { } url) utm = UtmFromUrl(url);
        var props = hasProps ? body.Slice(e.PropsStart, e.PropsLength) : EmptyObject;
        return new EventInput
        {
            MessageId = e.MessageId, Name = e.Name, Who = new Who(installationId, null, null), OccurredAt = occurred,
            PropertiesUtf8 = props,
            MessageRef = e.MessageRef is not null && props.Span.IndexOf("\"message_id\""u8) >= 0 ? e.MessageRef : null,
            Revenue = revenue, Currency = currency, Utm = utm,
        };
    }

    private static readonly ReadOnlyMemory<byte> EmptyObject = "{}"u8.ToArray();

    private static bool IsCurrency(string c) => c.Length == 3 && c.All(char.IsAsciiLetter);
}
