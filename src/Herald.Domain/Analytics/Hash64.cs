using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Herald.Domain.Analytics;

// 64-bit hashes for HyperLogLog. Stable by contract: serialized sketches made by one version are
// merged with sketches made by the next, so these functions must never change output.
public static class Hash64
{
    // SplitMix64's finalizer (Stafford's "Mix13" constants): a bijection with full avalanche, so
    // distinct ordinals never collide and consecutive ordinals look random.
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // The golden-ratio offset keeps ordinal 0 away from the mixer's fixed point 0.
    public static ulong Ordinal(uint ordinal) => Mix(ordinal + 0x9E3779B97F4A7C15UL);

    // Hash of the string's UTF-8 bytes (so the same id hashes the same from any client language).
    public static ulong String(string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max <= 512)
        {
            Span<byte> buffer = stackalloc byte[max];
            int n = Encoding.UTF8.GetBytes(value, buffer);
            return Bytes(buffer[..n]);
        }
        var rented = ArrayPool<byte>.Shared.Rent(max);
        try
        {
            int n = Encoding.UTF8.GetBytes(value, rented);
            return Bytes(rented.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // A Murmur3-style block loop (multiply, rotate, multiply per 8-byte lane) with the SplitMix
    // finalizer over the length-salted state.
    public static ulong Bytes(ReadOnlySpan<byte> data)
    {
        const ulong c1 = 0x87C37B91114253D5UL, c2 = 0x4CF5AD432745937FUL;
        ulong h = 0x2545F4914F6CDD1DUL ^ ((ulong)data.Length * 0x9E3779B97F4A7C15UL);
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            ulong k = BinaryPrimitives.ReadUInt64LittleEndian(data[i..]);
            h ^= BitOperations.RotateLeft(k * c1, 31) * c2;
            h = BitOperations.RotateLeft(h, 27) * 5 + 0x52DCE729UL;
        }
        if (i < data.Length)
        {
            ulong k = 0;
            for (int s = 0; i < data.Length; i++, s += 8) k |= (ulong)data[i] << s;
            h ^= BitOperations.RotateLeft(k * c1, 31) * c2;
        }
        return Mix(h ^ (ulong)data.Length);
    }
}
