using System.Buffers.Binary;
using System.Numerics;

namespace Herald.Domain.Analytics;

// Serialized form, version 1 (stored as blobs in the database; never change it in place — a new
// layout gets a new version byte and the reader keeps accepting the old one). Little-endian:
//
//   offset   size  field
//   0        3     magic "HRB" (0x48 0x52 0x42)
//   3        1     format version = 1
//   4        4     n = number of containers, uint32, 0..65536
//   8        5·n   container headers, keys strictly ascending:
//                    uint16 key (high 16 bits of the values), uint8 kind, uint16 count − 1
//                    kind 1 array:  count = cardinality, 1..4096
//                    kind 2 bitset: count = cardinality, 4097..65536
//                    kind 3 run:    count = number of runs, 1..32768
//   8+5·n    ...   payloads, in header order, with nothing after the last one:
//                    array:  count × uint16 low bits, strictly ascending
//                    bitset: 1024 × uint64 words; bit b of word w is the value 64·w + b;
//                            its population count must equal the header's cardinality
//                    run:    count × (uint16 start, uint16 length − 1); runs ascending, start + length − 1
//                            ≤ 65535, and each run starts at least 2 past the previous run's end
//                            (maximal runs, so one set has one encoding)
//
// The reader checks every rule above and throws InvalidDataException naming the broken one, so a
// corrupt or truncated blob can never yield a bitmap that violates the container invariants.
public sealed partial class RoaringBitmap
{
    public const byte FormatVersion = 1;
    private const int HeaderBytes = 8;
    private const int ContainerHeaderBytes = 5;

    public int GetSerializedSize()
    {
        long n = HeaderBytes + (long)ContainerHeaderBytes * _size;
        for (int i = 0; i < _size; i++) n += _containers[i].PayloadBytes;
        return checked((int)n);
    }

    public byte[] Serialize()
    {
        var bytes = new byte[GetSerializedSize()];
        Serialize(bytes);
        return bytes;
    }

    // Returns the number of bytes written.
    public int Serialize(Span<byte> destination)
    {
        int size = GetSerializedSize();
        if (destination.Length < size)
            throw new ArgumentException($"The destination holds {destination.Length} bytes; the bitmap needs {size}.", nameof(destination));
        destination[0] = (byte)'H';
        destination[1] = (byte)'R';
        destination[2] = (byte)'B';
        destination[3] = FormatVersion;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)_size);
        int h = HeaderBytes, p = HeaderBytes + ContainerHeaderBytes * _size;
        for (int i = 0; i < _size; i++)
        {
            var c = _containers[i];
            BinaryPrimitives.WriteUInt16LittleEndian(destination[h..], _keys[i]);
            destination[h + 2] = (byte)c.Kind;
            BinaryPrimitives.WriteUInt16LittleEndian(destination[(h + 3)..], (ushort)(c.HeaderCount - 1));
            h += ContainerHeaderBytes;
            c.WritePayload(destination[p..]);
            p += c.PayloadBytes;
        }
        return size;
    }

    public void Serialize(Stream stream) => stream.Write(Serialize());

    public static RoaringBitmap Deserialize(ReadOnlySpan<byte> source)
    {
        if (source.Length < HeaderBytes)
            throw Corrupt($"{source.Length} bytes is shorter than the {HeaderBytes}-byte header");
        CheckMagic(source);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(source[4..]);
        if (count > 65536) throw Corrupt($"container count {count} exceeds 65536");
        long payloadStart = HeaderBytes + (long)ContainerHeaderBytes * count;
        if (source.Length < payloadStart)
            throw Corrupt($"{source.Length} bytes cannot hold {count} container headers");
        long expected = payloadStart + PayloadSize(source[HeaderBytes..(int)payloadStart], (int)count);
        if (source.Length != expected)
            throw Corrupt($"length is {source.Length} bytes; the headers describe {expected}");

        var bitmap = new RoaringBitmap((int)count);
        int p = (int)payloadStart;
        for (int i = 0; i < count; i++)
        {
            var header = source.Slice(HeaderBytes + i * ContainerHeaderBytes, ContainerHeaderBytes);
            ushort key = BinaryPrimitives.ReadUInt16LittleEndian(header);
            var kind = (ContainerKind)header[2];
            int n = BinaryPrimitives.ReadUInt16LittleEndian(header[3..]) + 1;
            Container c = kind switch
            {
                ContainerKind.Array => ReadArray(source.Slice(p, n * 2), n, key),
                ContainerKind.Bitset => ReadBitset(source.Slice(p, Bits.Words * 8), n, key),
                _ => ReadRuns(source.Slice(p, n * 4), n, key),
            };
            p += c.PayloadBytes;
            bitmap._keys[i] = key;
            bitmap._containers[i] = c;
        }
        bitmap._size = (int)count;
        bitmap._cardinality = -1;
        return bitmap;
    }

    public static RoaringBitmap Deserialize(byte[] source) => Deserialize(source.AsSpan());

    // Reads exactly one serialized bitmap from the stream (no further bytes are consumed). Payload
    // memory grows with the bytes actually read, so a corrupt header cannot trigger a huge allocation.
    public static RoaringBitmap Deserialize(Stream stream)
    {
        var head = new byte[HeaderBytes];
        ReadExactly(stream, head, "header");
        CheckMagic(head);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(4));
        if (count > 65536) throw Corrupt($"container count {count} exceeds 65536");
        var headers = new byte[ContainerHeaderBytes * count];
        ReadExactly(stream, headers, "container headers");
        long payload = PayloadSize(headers, (int)count);
        using var buffer = new MemoryStream();
        buffer.Write(head);
        buffer.Write(headers);
        var chunk = new byte[81920];
        while (payload > 0)
        {
            int want = (int)Math.Min(chunk.Length, payload);
            ReadExactly(stream, chunk.AsSpan(0, want), "container payloads");
            buffer.Write(chunk, 0, want);
            payload -= want;
        }
        return Deserialize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    private static void ReadExactly(Stream stream, Span<byte> destination, string what)
    {
        try { stream.ReadExactly(destination); }
        catch (EndOfStreamException e) { throw new InvalidDataException($"Corrupt roaring bitmap: the stream ended inside the {what}.", e); }
    }

    private static void CheckMagic(ReadOnlySpan<byte> source)
    {
        if (source[0] != 'H' || source[1] != 'R' || source[2] != 'B')
            throw Corrupt("the magic bytes are not \"HRB\"");
        if (source[3] != FormatVersion)
            throw Corrupt($"format version {source[3]} is not supported (this build reads version {FormatVersion})");
    }

    // Validates the headers (kinds, counts, key order) and returns the payload byte count.
    private static long PayloadSize(ReadOnlySpan<byte> headers, int count)
    {
        long total = 0;
        int previousKey = -1;
        for (int i = 0; i < count; i++)
        {
            var h = headers.Slice(i * ContainerHeaderBytes, ContainerHeaderBytes);
            int key = BinaryPrimitives.ReadUInt16LittleEndian(h);
            if (key <= previousKey) throw Corrupt($"container key {key} at position {i} does not follow key {previousKey}");
            previousKey = key;
            int n = BinaryPrimitives.ReadUInt16LittleEndian(h[3..]) + 1;
            total += (ContainerKind)h[2] switch
            {
                ContainerKind.Array when n <= Container.MaxArraySize => n * 2,
                ContainerKind.Array => throw Corrupt($"array container {key} claims {n} values (at most {Container.MaxArraySize})"),
                ContainerKind.Bitset when n > Container.MaxArraySize => Bits.Words * 8,
                ContainerKind.Bitset => throw Corrupt($"bitset container {key} claims {n} values (must be more than {Container.MaxArraySize})"),
                ContainerKind.Run when n <= 32768 => n * 4,
                ContainerKind.Run => throw Corrupt($"run container {key} claims {n} runs (at most 32768)"),
                _ => throw Corrupt($"container {key} has unknown kind {h[2]}"),
            };
        }
        return total;
    }

    private static ArrayContainer ReadArray(ReadOnlySpan<byte> payload, int n, ushort key)
    {
        var values = new ushort[n];
        int previous = -1;
        for (int i = 0; i < n; i++)
        {
            ushort v = BinaryPrimitives.ReadUInt16LittleEndian(payload[(i * 2)..]);
            if (v <= previous) throw Corrupt($"array container {key}: value {v} at position {i} does not follow {previous}");
            values[i] = v;
            previous = v;
        }
        return new ArrayContainer(values, n);
    }

    private static BitsetContainer ReadBitset(ReadOnlySpan<byte> payload, int n, ushort key)
    {
        var words = new ulong[Bits.Words];
        int count = 0;
        for (int i = 0; i < words.Length; i++)
        {
            words[i] = BinaryPrimitives.ReadUInt64LittleEndian(payload[(i * 8)..]);
            count += BitOperations.PopCount(words[i]);
        }
        if (count != n) throw Corrupt($"bitset container {key} holds {count} values; its header says {n}");
        return new BitsetContainer(words, n);
    }

    private static RunContainer ReadRuns(ReadOnlySpan<byte> payload, int n, ushort key)
    {
        var runs = new ushort[n * 2];
        int previousEnd = -2, count = 0;
        for (int i = 0; i < n; i++)
        {
            int start = BinaryPrimitives.ReadUInt16LittleEndian(payload[(i * 4)..]);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(payload[(i * 4 + 2)..]) + 1;
            if (start <= previousEnd + 1) throw Corrupt($"run container {key}: run {i} starts at {start}, not after the previous run ending at {previousEnd} with a gap");
            int end = start + length - 1;
            if (end > ushort.MaxValue) throw Corrupt($"run container {key}: run {i} ends at {end}, past 65535");
            runs[i * 2] = (ushort)start;
            runs[i * 2 + 1] = (ushort)(length - 1);
            previousEnd = end;
            count += length;
        }
        return new RunContainer(runs, n, count);
    }

    private static InvalidDataException Corrupt(string detail) => new($"Corrupt roaring bitmap: {detail}.");
}
