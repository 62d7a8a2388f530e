using System.Collections;
using System.Numerics;

namespace Herald.Domain.Analytics;

// A compressed set of 32-bit ordinals (roaring layout: the high 16 bits select a container, the low
// 16 bits live in it as a sorted array, a 65536-bit bitset, or runs).
//
// Mutable; Clone() gives an independent copy. The static operators return new bitmaps and never
// share containers with their inputs, so results can be mutated freely. Thread-safety: any number
// of readers may share a bitmap that nobody mutates (reads never write, not even caches, except the
// cardinality cache, which is an idempotent single-word write of the same value).
public sealed partial class RoaringBitmap : IEnumerable<uint>, IEquatable<RoaringBitmap>
{
    private ushort[] _keys;
    private Container[] _containers;
    private int _size;
    private long _cardinality; // -1 when unknown

    public RoaringBitmap()
    {
        _keys = [];
        _containers = [];
    }

    private RoaringBitmap(int capacity)
    {
        _keys = capacity == 0 ? [] : new ushort[capacity];
        _containers = capacity == 0 ? [] : new Container[capacity];
        _cardinality = -1;
    }

    // Builds from ascending values; duplicates are skipped, descending input is rejected.
    public static RoaringBitmap FromSorted(ReadOnlySpan<uint> sortedValues)
    {
        var bitmap = new RoaringBitmap();
        bitmap.AddSorted(sortedValues);
        return bitmap;
    }

    public static RoaringBitmap FromValues(ReadOnlySpan<uint> values)
    {
        var copy = values.ToArray();
        Array.Sort(copy);
        return FromSorted(copy);
    }

    public static RoaringBitmap FromValues(IEnumerable<uint> values) => FromValues(values.ToArray());

    // Inclusive range [first, last].
    public static RoaringBitmap FromRange(uint first, uint last)
    {
        var bitmap = new RoaringBitmap();
        bitmap.AddRange(first, last);
        return bitmap;
    }

    public long Cardinality
    {
        get
        {
            long c = _cardinality;
            if (c >= 0) return c;
            c = 0;
            for (int i = 0; i < _size; i++) c += _containers[i].Cardinality;
            _cardinality = c;
            return c;
        }
    }

    public bool IsEmpty => _size == 0;

    // Number of 2^16 chunks in use; exposed for diagnostics and size estimates.
    public int ContainerCount => _size;

    public bool Contains(uint value)
    {
        int i = IndexOfKey((ushort)(value >> 16));
        return i >= 0 && _containers[i].Contains((ushort)value);
    }

    public bool Add(uint value)
    {
        var key = (ushort)(value >> 16);
        int i = IndexOfKey(key);
        bool added;
        if (i >= 0)
        {
            _containers[i] = _containers[i].Add((ushort)value, out added);
        }
        else
        {
            InsertAt(~i, key, new ArrayContainer([(ushort)value], 1));
            added = true;
        }
        if (added && _cardinality >= 0) _cardinality++;
        return added;
    }

    public bool Remove(uint value)
    {
        int i = IndexOfKey((ushort)(value >> 16));
        if (i < 0) return false;
        var c = _containers[i].Remove((ushort)value, out bool removed);
        if (c is null) RemoveAt(i);
        else _containers[i] = c;
        if (removed && _cardinality >= 0) _cardinality--;
        return removed;
    }

    // Adds ascending values (duplicates allowed, descending rejected). Chunks whose key is past the
    // current last key are appended directly; others are OR-ed into the existing container.
    public void AddSorted(ReadOnlySpan<uint> sortedValues)
    {
        int start = 0;
        uint[]? scratch = null;
        while (start < sortedValues.Length)
        {
            ushort key = (ushort)(sortedValues[start] >> 16);
            int end = start + 1;
            bool dup = false;
            while (end < sortedValues.Length && (sortedValues[end] >> 16) == key)
            {
                uint prev = sortedValues[end - 1], cur = sortedValues[end];
                if (cur < prev) throw new ArgumentException($"Values must be ascending; {cur} follows {prev} at index {end}.", nameof(sortedValues));
                if (cur == prev) dup = true;
                end++;
            }
            if (end < sortedValues.Length && sortedValues[end] < sortedValues[end - 1])
                throw new ArgumentException($"Values must be ascending; {sortedValues[end]} follows {sortedValues[end - 1]} at index {end}.", nameof(sortedValues));

            var chunk = sortedValues[start..end];
            if (dup)
            {
                scratch ??= new uint[65536];
                int n = 0;
                for (int k = 0; k < chunk.Length; k++)
                    if (k == 0 || chunk[k] != chunk[k - 1]) scratch[n++] = chunk[k];
                chunk = scratch.AsSpan(0, n);
            }
            var container = Container.FromSorted(chunk);
            int i = _size > 0 && _keys[_size - 1] < key ? ~_size : IndexOfKey(key);
            if (i >= 0) _containers[i] = _containers[i].OrInPlace(container);
            else InsertAt(~i, key, container);
            start = end;
        }
        _cardinality = -1;
    }

    // Adds the inclusive range [first, last].
    public void AddRange(uint first, uint last)
    {
        if (first > last) throw new ArgumentException($"Range start {first} is after its end {last}.");
        for (uint hi = first >> 16; hi <= last >> 16; hi++)
        {
            int lo = hi == first >> 16 ? (int)(first & 0xFFFF) : 0;
            int up = hi == last >> 16 ? (int)(last & 0xFFFF) : 0xFFFF;
            var range = new RunContainer([(ushort)lo, (ushort)(up - lo)], 1, up - lo + 1);
            int i = IndexOfKey((ushort)hi);
            if (i >= 0) _containers[i] = ContainerOps.Or(_containers[i], range);
            else InsertAt(~i, (ushort)hi, range.Normalize());
            if (hi == ushort.MaxValue) break;
        }
        _cardinality = -1;
    }

    public void Clear()
    {
        _keys = [];
        _containers = [];
        _size = 0;
        _cardinality = 0;
    }

    public RoaringBitmap Clone()
    {
        var copy = new RoaringBitmap(_size);
        for (int i = 0; i < _size; i++)
        {
            copy._keys[i] = _keys[i];
            copy._containers[i] = _containers[i].Clone();
        }
        copy._size = _size;
        copy._cardinality = _cardinality;
        return copy;
    }

    public uint Min
    {
        get
        {
            if (_size == 0) throw new InvalidOperationException("The bitmap is empty.");
            return ((uint)_keys[0] << 16) | _containers[0].Min;
        }
    }

    public uint Max
    {
        get
        {
            if (_size == 0) throw new InvalidOperationException("The bitmap is empty.");
            return ((uint)_keys[_size - 1] << 16) | _containers[_size - 1].Max;
        }
    }

    // Number of values <= value.
    public long Rank(uint value)
    {
        ushort key = (ushort)(value >> 16);
        long n = 0;
        for (int i = 0; i < _size; i++)
        {
            if (_keys[i] < key) n += _containers[i].Cardinality;
            else
            {
                if (_keys[i] == key) n += _containers[i].Rank((ushort)value);
                break;
            }
        }
        return n;
    }

    // The value at zero-based position index in ascending order.
    public uint Select(long index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "Index must not be negative.");
        for (int i = 0; i < _size; i++)
        {
            int c = _containers[i].Cardinality;
            if (index < c) return ((uint)_keys[i] << 16) | _containers[i].Select((int)index);
            index -= c;
        }
        throw new ArgumentOutOfRangeException(nameof(index), "Index is not below the cardinality.");
    }

    public uint[] ToArray()
    {
        var result = new uint[Cardinality];
        CopyTo(result);
        return result;
    }

    public int CopyTo(Span<uint> destination)
    {
        int n = 0;
        for (int i = 0; i < _size; i++)
        {
            var c = _containers[i];
            c.CopyTo(destination[n..], (uint)_keys[i] << 16);
            n += c.Cardinality;
        }
        return n;
    }

    // Converts containers to run form where that is smaller; returns whether anything changed.
    // Worth it for bitmaps with long ranges (e.g. attribute indexes over dense ordinals).
    public bool RunOptimize()
    {
        bool changed = false;
        for (int i = 0; i < _size; i++)
        {
            var c = _containers[i].RunOptimize();
            changed |= !ReferenceEquals(c, _containers[i]);
            _containers[i] = c;
        }
        return changed;
    }

    // Approximate heap bytes held by the containers (diagnostics, cache accounting).
    public long SizeInBytes()
    {
        long n = _keys.Length * 2L + _containers.Length * 8L;
        for (int i = 0; i < _size; i++) n += _containers[i].PayloadBytes + 24;
        return n;
    }

    // ----- set algebra -----

    public static RoaringBitmap And(RoaringBitmap a, RoaringBitmap b)
    {
        var result = new RoaringBitmap(Math.Min(a._size, b._size));
        int i = 0, j = 0;
        while (i < a._size && j < b._size)
        {
            ushort ka = a._keys[i], kb = b._keys[j];
            if (ka < kb) i++;
            else if (ka > kb) j++;
            else
            {
                var c = ContainerOps.And(a._containers[i], b._containers[j]);
                if (c is not null) result.Append(ka, c);
                i++; j++;
            }
        }
        return result;
    }

    public static RoaringBitmap Or(RoaringBitmap a, RoaringBitmap b)
    {
        var result = new RoaringBitmap(a._size + b._size);
        int i = 0, j = 0;
        while (i < a._size || j < b._size)
        {
            if (j >= b._size || (i < a._size && a._keys[i] < b._keys[j])) { result.Append(a._keys[i], a._containers[i].Clone()); i++; }
            else if (i >= a._size || b._keys[j] < a._keys[i]) { result.Append(b._keys[j], b._containers[j].Clone()); j++; }
            else
            {
                result.Append(a._keys[i], ContainerOps.Or(a._containers[i], b._containers[j]));
                i++; j++;
            }
        }
        return result;
    }

    public static RoaringBitmap AndNot(RoaringBitmap a, RoaringBitmap b)
    {
        var result = new RoaringBitmap(a._size);
        int j = 0;
        for (int i = 0; i < a._size; i++)
        {
            ushort k = a._keys[i];
            while (j < b._size && b._keys[j] < k) j++;
            if (j < b._size && b._keys[j] == k)
            {
                var c = ContainerOps.AndNot(a._containers[i], b._containers[j]);
                if (c is not null) result.Append(k, c);
            }
            else result.Append(k, a._containers[i].Clone());
        }
        return result;
    }

    public static RoaringBitmap Xor(RoaringBitmap a, RoaringBitmap b)
    {
        var result = new RoaringBitmap(a._size + b._size);
        int i = 0, j = 0;
        while (i < a._size || j < b._size)
        {
            if (j >= b._size || (i < a._size && a._keys[i] < b._keys[j])) { result.Append(a._keys[i], a._containers[i].Clone()); i++; }
            else if (i >= a._size || b._keys[j] < a._keys[i]) { result.Append(b._keys[j], b._containers[j].Clone()); j++; }
            else
            {
                var c = ContainerOps.Xor(a._containers[i], b._containers[j]);
                if (c is not null) result.Append(a._keys[i], c);
                i++; j++;
            }
        }
        return result;
    }

    public static long AndCardinality(RoaringBitmap a, RoaringBitmap b)
    {
        long n = 0;
        int i = 0, j = 0;
        while (i < a._size && j < b._size)
        {
            ushort ka = a._keys[i], kb = b._keys[j];
            if (ka < kb) i++;
            else if (ka > kb) j++;
            else { n += ContainerOps.AndCardinality(a._containers[i], b._containers[j]); i++; j++; }
        }
        return n;
    }

    public static long OrCardinality(RoaringBitmap a, RoaringBitmap b) => a.Cardinality + b.Cardinality - AndCardinality(a, b);
    public static long AndNotCardinality(RoaringBitmap a, RoaringBitmap b) => a.Cardinality - AndCardinality(a, b);

    public static bool Intersects(RoaringBitmap a, RoaringBitmap b)
    {
        int i = 0, j = 0;
        while (i < a._size && j < b._size)
        {
            ushort ka = a._keys[i], kb = b._keys[j];
            if (ka < kb) i++;
            else if (ka > kb) j++;
            else
            {
                if (ContainerOps.AndCardinality(a._containers[i], b._containers[j]) > 0) return true;
                i++; j++;
            }
        }
        return false;
    }

    // Union of many bitmaps (e.g. 90 day bitmaps → unique devices over a quarter). Each chunk is
    // OR-ed into one scratch bitset and its cardinality counted once, instead of building
    // n - 1 intermediate bitmaps.
    public static RoaringBitmap OrMany(ReadOnlySpan<RoaringBitmap> bitmaps)
    {
        if (bitmaps.Length == 0) return new RoaringBitmap();
        if (bitmaps.Length == 1) return bitmaps[0].Clone();
        int total = 0;
        foreach (var b in bitmaps) total += b._size;
        // (key << 32 | bitmap index << 16... ) does not fit for many bitmaps, so sort pairs by key.
        var entries = new (ushort Key, Container Container)[total];
        int n = 0;
        foreach (var b in bitmaps)
            for (int i = 0; i < b._size; i++) entries[n++] = (b._keys[i], b._containers[i]);
        var keys = new ushort[total];
        for (int i = 0; i < total; i++) keys[i] = entries[i].Key;
        Array.Sort(keys, entries);

        var result = new RoaringBitmap(CountDistinct(keys));
        ulong[]? words = null;
        int s = 0;
        while (s < total)
        {
            int e = s + 1;
            while (e < total && keys[e] == keys[s]) e++;
            if (e - s == 1)
            {
                result.Append(keys[s], entries[s].Container.Clone());
            }
            else
            {
                words ??= new ulong[Bits.Words];
                int arrayTotal = 0;
                bool anyNonArray = false;
                for (int k = s; k < e; k++)
                {
                    var c = entries[k].Container;
                    if (c is ArrayContainer a) arrayTotal += a.Count; else anyNonArray = true;
                }
                if (!anyNonArray && arrayTotal <= Container.MaxArraySize)
                {
                    Container acc = entries[s].Container;
                    for (int k = s + 1; k < e; k++) acc = ContainerOps.Or(acc, entries[k].Container);
                    result.Append(keys[s], acc);
                }
                else
                {
                    for (int k = s; k < e; k++) entries[k].Container.OrInto(words);
                    var c = Container.FromWords(words)!;
                    if (ReferenceEquals(c is BitsetContainer bc ? bc.Words : null, words)) words = null; // handed over
                    else Array.Clear(words);
                    result.Append(keys[s], c);
                }
            }
            s = e;
        }
        return result;
    }

    public static RoaringBitmap OrMany(IEnumerable<RoaringBitmap> bitmaps) => OrMany(bitmaps.ToArray());

    private static int CountDistinct(ushort[] sorted)
    {
        int n = sorted.Length == 0 ? 0 : 1;
        for (int i = 1; i < sorted.Length; i++) if (sorted[i] != sorted[i - 1]) n++;
        return n;
    }

    public void OrWith(RoaringBitmap other)
    {
        if (ReferenceEquals(this, other)) return;
        var keys = new ushort[_size + other._size];
        var containers = new Container[_size + other._size];
        int i = 0, j = 0, n = 0;
        while (i < _size || j < other._size)
        {
            if (j >= other._size || (i < _size && _keys[i] < other._keys[j])) { keys[n] = _keys[i]; containers[n++] = _containers[i++]; }
            else if (i >= _size || other._keys[j] < _keys[i]) { keys[n] = other._keys[j]; containers[n++] = other._containers[j++].Clone(); }
            else { keys[n] = _keys[i]; containers[n++] = _containers[i++].OrInPlace(other._containers[j++]); }
        }
        _keys = keys;
        _containers = containers;
        _size = n;
        _cardinality = -1;
    }

    public void AndWith(RoaringBitmap other)
    {
        if (ReferenceEquals(this, other)) return;
        int i = 0, j = 0, n = 0;
        while (i < _size && j < other._size)
        {
            ushort ka = _keys[i], kb = other._keys[j];
            if (ka < kb) i++;
            else if (ka > kb) j++;
            else
            {
                var c = _containers[i].AndInPlace(other._containers[j]);
                if (c is not null) { _keys[n] = ka; _containers[n++] = c; }
                i++; j++;
            }
        }
        Array.Clear(_containers, n, _size - n);
        _size = n;
        _cardinality = -1;
    }

    public void AndNotWith(RoaringBitmap other)
    {
        if (ReferenceEquals(this, other)) { Clear(); return; }
        int j = 0, n = 0;
        for (int i = 0; i < _size; i++)
        {
            ushort k = _keys[i];
            var c = _containers[i];
            while (j < other._size && other._keys[j] < k) j++;
            if (j < other._size && other._keys[j] == k)
            {
                Container? r;
                if (c is BitsetContainer bc)
                {
                    other._containers[j].AndNotInto(bc.Words);
                    r = Container.FromWords(bc.Words);
                }
                else r = ContainerOps.AndNot(c, other._containers[j]);
                if (r is null) continue;
                c = r;
            }
            _keys[n] = k;
            _containers[n++] = c;
        }
        Array.Clear(_containers, n, _size - n);
        _size = n;
        _cardinality = -1;
    }

    public void XorWith(RoaringBitmap other)
    {
        if (ReferenceEquals(this, other)) { Clear(); return; }
        var r = Xor(this, other);
        _keys = r._keys;
        _containers = r._containers;
        _size = r._size;
        _cardinality = -1;
    }

    public static RoaringBitmap operator &(RoaringBitmap a, RoaringBitmap b) => And(a, b);
    public static RoaringBitmap operator |(RoaringBitmap a, RoaringBitmap b) => Or(a, b);
    public static RoaringBitmap operator ^(RoaringBitmap a, RoaringBitmap b) => Xor(a, b);
    public static RoaringBitmap operator -(RoaringBitmap a, RoaringBitmap b) => AndNot(a, b);

    // ----- equality and enumeration -----

    public bool Equals(RoaringBitmap? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        if (_size != other._size) return false;
        for (int i = 0; i < _size; i++)
        {
            if (_keys[i] != other._keys[i]) return false;
            if (!ContainerOps.ContentEquals(_containers[i], other._containers[i])) return false;
        }
        return true;
    }

    public override bool Equals(object? obj) => obj is RoaringBitmap b && Equals(b);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Cardinality);
        if (_size > 0) { h.Add(Min); h.Add(Max); }
        return h.ToHashCode();
    }

    public override string ToString() => $"RoaringBitmap({Cardinality} values in {_size} containers)";

    public Enumerator GetEnumerator() => new(this);
    IEnumerator<uint> IEnumerable<uint>.GetEnumerator() => GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    // Ascending; the bitmap must not be modified during enumeration.
    public struct Enumerator : IEnumerator<uint>
    {
        private readonly RoaringBitmap _bitmap;
        private int _index;
        private Container? _container;
        private uint _high;
        private int _pos;      // array: next index; bitset: current word index; run: current run
        private ulong _word;   // bitset: remaining bits of the current word
        private int _runNext, _runEnd;
        private uint _current;

        internal Enumerator(RoaringBitmap bitmap)
        {
            _bitmap = bitmap;
            _index = -1;
            _container = null;
            _high = 0; _pos = 0; _word = 0; _runNext = 0; _runEnd = -1; _current = 0;
        }

        public readonly uint Current => _current;
        readonly object IEnumerator.Current => _current;

        public bool MoveNext()
        {
            while (true)
            {
                var c = _container;
                if (c is null)
                {
                    if (++_index >= _bitmap._size) { _index = _bitmap._size; return false; }
                    c = _container = _bitmap._containers[_index];
                    _high = (uint)_bitmap._keys[_index] << 16;
                    _pos = 0;
                    if (c is BitsetContainer b0) _word = b0.Words[0];
                    else if (c is RunContainer r0) { _runNext = r0.Runs[0]; _runEnd = r0.Runs[0] + r0.Runs[1]; }
                }
                switch (c.Kind)
                {
                    case ContainerKind.Array:
                        var a = (ArrayContainer)c;
                        if (_pos < a.Count) { _current = _high | a.Values[_pos++]; return true; }
                        break;
                    case ContainerKind.Bitset:
                        var words = ((BitsetContainer)c).Words;
                        while (_word == 0)
                        {
                            if (++_pos >= words.Length) break;
                            _word = words[_pos];
                        }
                        if (_word != 0)
                        {
                            _current = _high | (uint)((_pos << 6) + BitOperations.TrailingZeroCount(_word));
                            _word &= _word - 1;
                            return true;
                        }
                        break;
                    default:
                        var r = (RunContainer)c;
                        if (_runNext > _runEnd)
                        {
                            if (++_pos >= r.RunCount) break;
                            _runNext = r.Runs[_pos * 2];
                            _runEnd = _runNext + r.Runs[_pos * 2 + 1];
                        }
                        _current = _high | (uint)_runNext++;
                        return true;
                }
                _container = null;
            }
        }

        public void Reset()
        {
            _index = -1;
            _container = null;
        }

        public readonly void Dispose() { }
    }

    // ----- internals -----

    private int IndexOfKey(ushort key)
    {
        if (_size > 0 && _keys[_size - 1] == key) return _size - 1;
        return _keys.AsSpan(0, _size).BinarySearch(key);
    }

    private void Append(ushort key, Container container)
    {
        if (_size == _keys.Length) Grow();
        _keys[_size] = key;
        _containers[_size++] = container;
        _cardinality = -1;
    }

    private void InsertAt(int index, ushort key, Container container)
    {
        if (_size == _keys.Length) Grow();
        if (index < _size)
        {
            Array.Copy(_keys, index, _keys, index + 1, _size - index);
            Array.Copy(_containers, index, _containers, index + 1, _size - index);
        }
        _keys[index] = key;
        _containers[index] = container;
        _size++;
        _cardinality = -1;
    }

    private void RemoveAt(int index)
    {
        _size--;
        Array.Copy(_keys, index + 1, _keys, index, _size - index);
        Array.Copy(_containers, index + 1, _containers, index, _size - index);
        _containers[_size] = null!;
        _cardinality = -1;
    }

    private void Grow()
    {
        int capacity = Math.Max(4, _keys.Length * 2);
        Array.Resize(ref _keys, capacity);
        Array.Resize(ref _containers, capacity);
    }
}
