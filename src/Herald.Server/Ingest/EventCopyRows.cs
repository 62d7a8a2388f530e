using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Herald.Server.Ingest;

/// <summary>
/// Encodes event rows in PostgreSQL's binary COPY format (header, rows of length-prefixed fields,
/// trailer) for <c>COPY events (...) FROM STDIN (FORMAT BINARY)</c>, writing the bytes directly: text
/// columns are UTF-8 (the properties straight from the request body), numbers big-endian. The
/// column order is <see cref="Columns"/>.
/// </summary>
internal sealed class EventCopyRows : IDisposable
{
    public const string Columns =
        "app_id, message_id, name, device_ordinal, user_ordinal, occurred_at, received_at, properties, revenue, currency, utm_source, utm_medium, utm_campaign, utm_term, utm_content";

    private const short FieldCount = 15;
    private static readonly byte[] Header = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    private byte[] _buffer;
    private int _length;

    public EventCopyRows(int capacity) => _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 4096));

    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    public void Begin()
    {
        _length = 0;
        Append(Header);
    }

    public void Row(long appId, EventInput e, int? device, int? user, long receivedAt)
    {
        Int16(FieldCount);
        Int64(appId);
        Text(e.MessageId);
        Text(e.Name);
        Int32(device);
        Int32(user);
        Int64(e.OccurredAt);
        Int64(receivedAt);
        Bytes(e.PropertiesUtf8.Span);
        if (e.Revenue is { } r) Int64(BitConverter.DoubleToInt64Bits(r)); else Null();
        Text(e.Currency);
        Text(e.Utm.Source);
        Text(e.Utm.Medium);
        Text(e.Utm.Campaign);
        Text(e.Utm.Term);
        Text(e.Utm.Content);
    }

    public void End() => Int16(-1);

    private void Int16(short v) => BinaryPrimitives.WriteInt16BigEndian(Take(2), v);

    private void Int64(long v)
    {
        var s = Take(12);
        BinaryPrimitives.WriteInt32BigEndian(s, 8);
        BinaryPrimitives.WriteInt64BigEndian(s[4..], v);
    }

    private void Int32(int? v)
    {
        if (v is not { } x) { Null(); return; }
        var s = Take(8);
        BinaryPrimitives.WriteInt32BigEndian(s, 4);
        BinaryPrimitives.WriteInt32BigEndian(s[4..], x);
    }

    private void Null() => BinaryPrimitives.WriteInt32BigEndian(Take(4), -1);

    private void Text(string? v)
    {
        if (v is null) { Null(); return; }
        Ensure(4 + Encoding.UTF8.GetMaxByteCount(v.Length));
        var n = Encoding.UTF8.GetBytes(v, _buffer.AsSpan(_length + 4));
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), n);
        _length += 4 + n;
    }

    private void Bytes(ReadOnlySpan<byte> v)
    {
        BinaryPrimitives.WriteInt32BigEndian(Take(4), v.Length);
        Append(v);
    }

    private void Append(ReadOnlySpan<byte> v) => v.CopyTo(Take(v.Length));

    private Span<byte> Take(int n)
    {
        Ensure(n);
        var s = _buffer.AsSpan(_length, n);
        _length += n;
        return s;
    }

    private void Ensure(int n)
    {
        if (_length + n <= _buffer.Length) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + n));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
