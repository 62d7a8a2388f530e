using System.Buffers.Binary;
using System.Numerics;

namespace Herald.Domain.Analytics;

// The numeric values are the kind bytes of the serialized format (see RoaringBitmap.Serialization.cs).
internal enum ContainerKind : byte { Array = 1, Bitset = 2, Run = 3 }

// One 2^16 chunk of a RoaringBitmap. A container belongs to exactly one bitmap (bitmaps never share
// containers), so the in-place members may mutate it. Empty containers are never kept: Remove
// returns null instead.
internal abstract class Container
{
    // Array containers hold at most this many values (8 KiB, the size of a bitset); beyond it a
    // bitset is smaller and faster. Canonical form: array iff cardinality <= MaxArraySize.
    public const int MaxArraySize = 4096;

    public readonly ContainerKind Kind;

    protected Container(ContainerKind kind) => Kind = kind;

    public abstract int Cardinality { get; }
    public abstract ushort Min { get; }
    public abstract ushort Max { get; }
    public abstract bool Contains(ushort x);
    public abstract Container Add(ushort x, out bool added);
    public abstract Container? Remove(ushort x, out bool removed);
    public abstract Container Clone();
    // Number of values <= x.
    public abstract int Rank(ushort x);
    public abstract ushort Select(int index);
    public abstract void CopyTo(Span<uint> destination, uint high);
    public abstract void OrInto(Span<ulong> words);
    public abstract void XorInto(Span<ulong> words);
    public abstract void AndNotInto(Span<ulong> words);
    public abstract int PayloadBytes { get; }
    // Stored minus one in the 16-bit count field of the container header.
    public abstract int HeaderCount { get; }
    public abstract void WritePayload(Span<byte> destination);

    public virtual ulong[] ToWords()
    {
        var words = new ulong[Bits.Words];
        OrInto(words);
        return words;
    }

    // The same values as an array or bitset container (run containers expand; others return themselves).
    public virtual Container Normalize() => this;

    public virtual Container OrInPlace(Container other) => ContainerOps.Or(this, other);
    public virtual Container? AndInPlace(Container other) => ContainerOps.And(this, other);

    public abstract int CountRuns();

    public Container RunOptimize()
    {
        if (Kind == ContainerKind.Run) return this;
        int runs = CountRuns();
        if (runs * 4 >= PayloadBytes) return this;
        var r = new ushort[runs * 2];
        int n = 0, start = -1, prev = -2;
        var values = new uint[Cardinality];
        CopyTo(values, 0);
        foreach (uint u in values)
        {
            int v = (int)u;
            if (v != prev + 1)
            {
                if (start >= 0) { r[n++] = (ushort)start; r[n++] = (ushort)(prev - start); }
                start = v;
            }
            prev = v;
        }
        r[n++] = (ushort)start; r[n++] = (ushort)(prev - start);
        return new RunContainer(r, runs, Cardinality);
    }

    public static Container? FromWords(ulong[] words)
    {
        int count = Bits.PopCount(words);
        if (count == 0) return null;
        if (count > MaxArraySize) return new BitsetContainer(words, count);
        return ArrayContainer.FromWords(words, count);
    }

    // Builds from strictly ascending values (the fast path of bulk loads).
    public static Container FromSorted(ReadOnlySpan<uint> values)
    {
        if (values.Length <= MaxArraySize)
        {
            var a = new ushort[values.Length];
            for (int i = 0; i < a.Length; i++) a[i] = (ushort)values[i];
            return new ArrayContainer(a, a.Length);
        }
        var words = new ulong[Bits.Words];
        foreach (uint v in values) words[(v & 0xFFFF) >> 6] |= 1UL << (int)v;
        return new BitsetContainer(words, values.Length);
    }
}

internal sealed class ArrayContainer : Container
{
    public ushort[] Values;
    public int Count;

    public ArrayContainer(ushort[] values, int count) : base(ContainerKind.Array)
    {
        Values = values;
        Count = count;
    }

    public ReadOnlySpan<ushort> Span => Values.AsSpan(0, Count);
    public override int Cardinality => Count;
    public override ushort Min => Values[0];
    public override ushort Max => Values[Count - 1];
    public override bool Contains(ushort x) => Span.BinarySearch(x) >= 0;

    public static ArrayContainer FromWords(ReadOnlySpan<ulong> words, int count)
    {
        var values = new ushort[count];
        int n = 0;
        for (int i = 0; i < words.Length; i++)
        {
            ulong w = words[i];
            while (w != 0)
            {
                values[n++] = (ushort)((i << 6) + BitOperations.TrailingZeroCount(w));
                w &= w - 1;
            }
        }
        return new ArrayContainer(values, n);
    }

    public override Container Add(ushort x, out bool added)
    {
        int i = Span.BinarySearch(x);
        if (i >= 0) { added = false; return this; }
        added = true;
        i = ~i;
        if (Count == MaxArraySize)
        {
            var words = ToWords();
            words[x >> 6] |= 1UL << x;
            return new BitsetContainer(words, Count + 1);
        }
        if (Count == Values.Length)
        {
            var grown = new ushort[Math.Min(MaxArraySize, Math.Max(4, Values.Length * 2))];
            Values.AsSpan(0, i).CopyTo(grown);
            Values.AsSpan(i, Count - i).CopyTo(grown.AsSpan(i + 1));
            Values = grown;
        }
        else
        {
            Values.AsSpan(i, Count - i).CopyTo(Values.AsSpan(i + 1));
        }
        Values[i] = x;
        Count++;
        return this;
    }

    public override Container? Remove(ushort x, out bool removed)
    {
        int i = Span.BinarySearch(x);
        if (i < 0) { removed = false; return this; }
        removed = true;
        Values.AsSpan(i + 1, Count - i - 1).CopyTo(Values.AsSpan(i));
        Count--;
        return Count == 0 ? null : this;
    }

    public override Container Clone() => new ArrayContainer(Values.AsSpan(0, Count).ToArray(), Count);

    public override int Rank(ushort x)
    {
        int i = Span.BinarySearch(x);
        return i >= 0 ? i + 1 : ~i;
    }

    public override ushort Select(int index) => Values[index];

    public override void CopyTo(Span<uint> destination, uint high)
    {
        var v = Span;
        for (int i = 0; i < v.Length; i++) destination[i] = high | v[i];
    }

    public override void OrInto(Span<ulong> words)
    {
        foreach (ushort v in Span) words[v >> 6] |= 1UL << v;
    }

    public override void XorInto(Span<ulong> words)
    {
        foreach (ushort v in Span) words[v >> 6] ^= 1UL << v;
    }

    public override void AndNotInto(Span<ulong> words)
    {
        foreach (ushort v in Span) words[v >> 6] &= ~(1UL << v);
    }

    public override int CountRuns()
    {
        var v = Span;
        int runs = 1;
        for (int i = 1; i < v.Length; i++) if (v[i] != v[i - 1] + 1) runs++;
        return runs;
    }

    public override int PayloadBytes => Count * 2;
    public override int HeaderCount => Count;

    public override void WritePayload(Span<byte> destination)
    {
        var v = Span;
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(destination[(i * 2)..], v[i]);
    }
}

internal sealed class BitsetContainer : Container
{
    public readonly ulong[] Words;
    public int Count;

    public BitsetContainer(ulong[] words, int count) : base(ContainerKind.Bitset)
    {
        Words = words;
        Count = count;
    }

    public override int Cardinality => Count;

    public override ushort Min
    {
        get
        {
            for (int i = 0; i < Words.Length; i++)
                if (Words[i] != 0) return (ushort)((i << 6) + BitOperations.TrailingZeroCount(Words[i]));
            throw new InvalidOperationException("Empty container.");
        }
    }

    public override ushort Max
    {
        get
        {
            for (int i = Words.Length - 1; i >= 0; i--)
                if (Words[i] != 0) return (ushort)((i << 6) + 63 - BitOperations.LeadingZeroCount(Words[i]));
            throw new InvalidOperationException("Empty container.");
        }
    }

    public override bool Contains(ushort x) => (Words[x >> 6] & (1UL << x)) != 0;

    public override Container Add(ushort x, out bool added)
    {
        ulong before = Words[x >> 6];
        ulong after = before | (1UL << x);
        added = before != after;
        if (added) { Words[x >> 6] = after; Count++; }
        return this;
    }

    public override Container? Remove(ushort x, out bool removed)
    {
        ulong before = Words[x >> 6];
        ulong after = before & ~(1UL << x);
        removed = before != after;
        if (!removed) return this;
        Words[x >> 6] = after;
        Count--;
        return Count <= MaxArraySize ? ArrayContainer.FromWords(Words, Count) : this;
    }

    public override Container Clone() => new BitsetContainer((ulong[])Words.Clone(), Count);
    public override ulong[] ToWords() => (ulong[])Words.Clone();

    public override int Rank(ushort x)
    {
        int w = x >> 6;
        int n = 0;
        for (int i = 0; i < w; i++) n += BitOperations.PopCount(Words[i]);
        return n + BitOperations.PopCount(Words[w] & (~0UL >> (63 - (x & 63))));
    }

    public override ushort Select(int index)
    {
        for (int i = 0; i < Words.Length; i++)
        {
            ulong w = Words[i];
            int c = BitOperations.PopCount(w);
            if (index < c)
            {
                for (int k = 0; k < index; k++) w &= w - 1;
                return (ushort)((i << 6) + BitOperations.TrailingZeroCount(w));
            }
            index -= c;
        }
        throw new ArgumentOutOfRangeException(nameof(index));
    }

    public override void CopyTo(Span<uint> destination, uint high)
    {
        int n = 0;
        for (int i = 0; i < Words.Length; i++)
        {
            ulong w = Words[i];
            while (w != 0)
            {
                destination[n++] = high | (uint)((i << 6) + BitOperations.TrailingZeroCount(w));
                w &= w - 1;
            }
        }
    }

    public override void OrInto(Span<ulong> words) => Bits.Or(words, Words);
    public override void XorInto(Span<ulong> words) => Bits.Xor(words, Words);
    public override void AndNotInto(Span<ulong> words) => Bits.AndNot(words, Words);

    public override Container OrInPlace(Container other)
    {
        other.OrInto(Words);
        Count = Bits.PopCount(Words);
        return this;
    }

    public override Container? AndInPlace(Container other)
    {
        if (other is not BitsetContainer b) return ContainerOps.And(this, other);
        Bits.And(Words, b.Words);
        Count = Bits.PopCount(Words);
        if (Count == 0) return null;
        return Count <= MaxArraySize ? ArrayContainer.FromWords(Words, Count) : this;
    }

    public override int CountRuns()
    {
        int runs = 0;
        ulong carry = 0;
        for (int i = 0; i < Words.Length; i++)
        {
            ulong w = Words[i];
            runs += BitOperations.PopCount(w & ~((w << 1) | carry));
            carry = w >> 63;
        }
        return runs;
    }

    public override int PayloadBytes => Bits.Words * 8;
    public override int HeaderCount => Count;

    public override void WritePayload(Span<byte> destination)
    {
        for (int i = 0; i < Words.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(destination[(i * 8)..], Words[i]);
    }
}

// Runs are stored as (start, length - 1) pairs, ascending and non-overlapping. Run containers are a
// storage form (RoaringBitmap.RunOptimize): reads work on them directly, writes expand them first.
internal sealed class RunContainer : Container
{
    public readonly ushort[] Runs;
    public readonly int RunCount;
    private readonly int _count;

    public RunContainer(ushort[] runs, int runCount, int count) : base(ContainerKind.Run)
    {
        Runs = runs;
        RunCount = runCount;
        _count = count;
    }

    public override int Cardinality => _count;
    public override ushort Min => Runs[0];
    public override ushort Max => (ushort)(Runs[(RunCount - 1) * 2] + Runs[(RunCount - 1) * 2 + 1]);

    public override bool Contains(ushort x)
    {
        int lo = 0, hi = RunCount - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int start = Runs[mid * 2];
            if (x < start) hi = mid - 1;
            else if (x > start + Runs[mid * 2 + 1]) lo = mid + 1;
            else return true;
        }
        return false;
    }

    public override Container Normalize()
    {
        if (_count > MaxArraySize) return new BitsetContainer(ToWords(), _count);
        var values = new ushort[_count];
        int n = 0;
        for (int r = 0; r < RunCount; r++)
        {
            int start = Runs[r * 2], end = start + Runs[r * 2 + 1];
            for (int v = start; v <= end; v++) values[n++] = (ushort)v;
        }
        return new ArrayContainer(values, n);
    }

    public override Container Add(ushort x, out bool added)
    {
        if (Contains(x)) { added = false; return this; }
        return Normalize().Add(x, out added);
    }

    public override Container? Remove(ushort x, out bool removed)
    {
        if (!Contains(x)) { removed = false; return this; }
        return Normalize().Remove(x, out removed);
    }

    public override Container Clone() => new RunContainer((ushort[])Runs.Clone(), RunCount, _count);

    public override int Rank(ushort x)
    {
        int n = 0;
        for (int r = 0; r < RunCount; r++)
        {
            int start = Runs[r * 2], len = Runs[r * 2 + 1] + 1;
            if (x < start) break;
            if (x < start + len) return n + x - start + 1;
            n += len;
        }
        return n;
    }

    public override ushort Select(int index)
    {
        for (int r = 0; r < RunCount; r++)
        {
            int len = Runs[r * 2 + 1] + 1;
            if (index < len) return (ushort)(Runs[r * 2] + index);
            index -= len;
        }
        throw new ArgumentOutOfRangeException(nameof(index));
    }

    public override void CopyTo(Span<uint> destination, uint high)
    {
        int n = 0;
        for (int r = 0; r < RunCount; r++)
        {
            uint start = Runs[r * 2], end = start + Runs[r * 2 + 1];
            for (uint v = start; v <= end; v++) destination[n++] = high | v;
        }
    }

    public override void OrInto(Span<ulong> words)
    {
        for (int r = 0; r < RunCount; r++) Bits.SetRange(words, Runs[r * 2], Runs[r * 2] + Runs[r * 2 + 1]);
    }

    public override void XorInto(Span<ulong> words)
    {
        for (int r = 0; r < RunCount; r++) Bits.FlipRange(words, Runs[r * 2], Runs[r * 2] + Runs[r * 2 + 1]);
    }

    public override void AndNotInto(Span<ulong> words)
    {
        for (int r = 0; r < RunCount; r++) Bits.ClearRange(words, Runs[r * 2], Runs[r * 2] + Runs[r * 2 + 1]);
    }

    public override int CountRuns() => RunCount;
    public override int PayloadBytes => RunCount * 4;
    public override int HeaderCount => RunCount;

    public override void WritePayload(Span<byte> destination)
    {
        for (int i = 0; i < RunCount * 2; i++) BinaryPrimitives.WriteUInt16LittleEndian(destination[(i * 2)..], Runs[i]);
    }
}
