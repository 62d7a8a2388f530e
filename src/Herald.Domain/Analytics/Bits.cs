using System.Numerics;
using System.Runtime.InteropServices;

namespace Herald.Domain.Analytics;

// Word-level helpers for the 1024-word (65536-bit) bitset containers. The whole-bitset operations
// run on Vector<ulong> (256-bit on AVX2 machines); 1024 words divide evenly by every vector width.
internal static class Bits
{
    public const int Words = 1024;

    public static void Or(Span<ulong> dst, ReadOnlySpan<ulong> src)
    {
        var d = MemoryMarshal.Cast<ulong, Vector<ulong>>(dst);
        var s = MemoryMarshal.Cast<ulong, Vector<ulong>>(src);
        for (int i = 0; i < d.Length; i++) d[i] |= s[i];
        for (int i = d.Length * Vector<ulong>.Count; i < dst.Length; i++) dst[i] |= src[i];
    }

    public static void And(Span<ulong> dst, ReadOnlySpan<ulong> src)
    {
        var d = MemoryMarshal.Cast<ulong, Vector<ulong>>(dst);
        var s = MemoryMarshal.Cast<ulong, Vector<ulong>>(src);
        for (int i = 0; i < d.Length; i++) d[i] &= s[i];
        for (int i = d.Length * Vector<ulong>.Count; i < dst.Length; i++) dst[i] &= src[i];
    }

    public static void AndNot(Span<ulong> dst, ReadOnlySpan<ulong> src)
    {
        var d = MemoryMarshal.Cast<ulong, Vector<ulong>>(dst);
        var s = MemoryMarshal.Cast<ulong, Vector<ulong>>(src);
        for (int i = 0; i < d.Length; i++) d[i] = Vector.AndNot(d[i], s[i]);
        for (int i = d.Length * Vector<ulong>.Count; i < dst.Length; i++) dst[i] &= ~src[i];
    }

    public static void Xor(Span<ulong> dst, ReadOnlySpan<ulong> src)
    {
        var d = MemoryMarshal.Cast<ulong, Vector<ulong>>(dst);
        var s = MemoryMarshal.Cast<ulong, Vector<ulong>>(src);
        for (int i = 0; i < d.Length; i++) d[i] ^= s[i];
        for (int i = d.Length * Vector<ulong>.Count; i < dst.Length; i++) dst[i] ^= src[i];
    }

    public static int PopCount(ReadOnlySpan<ulong> words)
    {
        int n = 0;
        for (int i = 0; i < words.Length; i++) n += BitOperations.PopCount(words[i]);
        return n;
    }

    public static int AndPopCount(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b)
    {
        int n = 0;
        for (int i = 0; i < a.Length; i++) n += BitOperations.PopCount(a[i] & b[i]);
        return n;
    }

    // Sets bits [first, last] (inclusive).
    public static void SetRange(Span<ulong> words, int first, int last)
    {
        int fw = first >> 6, lw = last >> 6;
        ulong fm = ~0UL << (first & 63), lm = ~0UL >> (63 - (last & 63));
        if (fw == lw) { words[fw] |= fm & lm; return; }
        words[fw] |= fm;
        words.Slice(fw + 1, lw - fw - 1).Fill(~0UL);
        words[lw] |= lm;
    }

    public static void ClearRange(Span<ulong> words, int first, int last)
    {
        int fw = first >> 6, lw = last >> 6;
        ulong fm = ~0UL << (first & 63), lm = ~0UL >> (63 - (last & 63));
        if (fw == lw) { words[fw] &= ~(fm & lm); return; }
        words[fw] &= ~fm;
        words.Slice(fw + 1, lw - fw - 1).Clear();
        words[lw] &= ~lm;
    }

    public static void FlipRange(Span<ulong> words, int first, int last)
    {
        int fw = first >> 6, lw = last >> 6;
        ulong fm = ~0UL << (first & 63), lm = ~0UL >> (63 - (last & 63));
        if (fw == lw) { words[fw] ^= fm & lm; return; }
        words[fw] ^= fm;
        for (int i = fw + 1; i < lw; i++) words[i] = ~words[i];
        words[lw] ^= lm;
    }

    public static int CountRange(ReadOnlySpan<ulong> words, int first, int last)
    {
        int fw = first >> 6, lw = last >> 6;
        ulong fm = ~0UL << (first & 63), lm = ~0UL >> (63 - (last & 63));
        if (fw == lw) return BitOperations.PopCount(words[fw] & fm & lm);
        int n = BitOperations.PopCount(words[fw] & fm) + BitOperations.PopCount(words[lw] & lm);
        for (int i = fw + 1; i < lw; i++) n += BitOperations.PopCount(words[i]);
        return n;
    }
}
