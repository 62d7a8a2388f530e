using Herald.Domain.Analytics;

namespace Herald.Domain.Tests.Analytics;

public class RoaringBitmapTests
{
    // Random sets of several shapes so that every container kind and conversion shows up.
    internal static uint[] RandomValues(Random rng, int shape)
    {
        var list = new List<uint>();
        switch (shape)
        {
            case 0: // sparse over the whole 32-bit space
                for (int i = rng.Next(0, 2000); i > 0; i--) list.Add((uint)rng.NextInt64(0, 1L << 32));
                break;
            case 1: // dense in a few chunks: bitset containers
                for (int i = rng.Next(0, 30000); i > 0; i--) list.Add((uint)(rng.Next(0, 4) << 16 | rng.Next(0, 65536)));
                break;
            case 2: // runs
                for (int r = rng.Next(1, 12); r > 0; r--)
                {
                    uint start = (uint)(rng.Next(0, 5) << 16 | rng.Next(0, 65536));
                    int length = rng.Next(1, 9000);
                    for (int k = 0; k < length; k++) list.Add(start + (uint)k);
                }
                break;
            case 3: // boundaries
                uint[] edges = [0, 1, 65534, 65535, 65536, 65537, 131071, 131072, uint.MaxValue, uint.MaxValue - 1, 0xFFFF0000, 0x7FFFFFFF, 0x80000000];
                foreach (var e in edges) if (rng.Next(3) > 0) list.Add(e);
                for (int i = rng.Next(0, 50); i > 0; i--) list.Add((uint)rng.NextInt64(0, 1L << 32));
                break;
            case 4: // around the array/bitset threshold in one chunk
                {
                    int n = rng.Next(4090, 4103);
                    var set = new HashSet<uint>();
                    while (set.Count < n) set.Add((uint)(7 << 16 | rng.Next(0, 65536)));
                    list.AddRange(set);
                }
                break;
            default: // sparse across many chunks, a few values each
                for (int i = rng.Next(0, 3000); i > 0; i--) list.Add((uint)(rng.Next(0, 5000) << 16 | rng.Next(0, 16)));
                break;
        }
        return list.ToArray();
    }

    private static void ShouldMatch(RoaringBitmap bitmap, HashSet<uint> expected, Random rng)
    {
        var sorted = expected.ToArray();
        Array.Sort(sorted);
        bitmap.Cardinality.ShouldBe(sorted.Length);
        bitmap.IsEmpty.ShouldBe(sorted.Length == 0);
        bitmap.ToArray().ShouldBe(sorted);
        var enumerated = new List<uint>();
        foreach (var v in bitmap) enumerated.Add(v);
        enumerated.ShouldBe(sorted);
        if (sorted.Length > 0)
        {
            bitmap.Min.ShouldBe(sorted[0]);
            bitmap.Max.ShouldBe(sorted[^1]);
        }
        for (int i = 0; i < 200; i++)
        {
            uint probe = i % 2 == 0 && sorted.Length > 0
                ? sorted[rng.Next(sorted.Length)] + (uint)rng.Next(-1, 2)
                : (uint)rng.NextInt64(0, 1L << 32);
            bitmap.Contains(probe).ShouldBe(expected.Contains(probe), $"Contains({probe})");
            int rank = UpperBound(sorted, probe);
            bitmap.Rank(probe).ShouldBe(rank, $"Rank({probe})");
            if (sorted.Length > 0)
            {
                int idx = rng.Next(sorted.Length);
                bitmap.Select(idx).ShouldBe(sorted[idx]);
            }
        }
    }

    private static int UpperBound(uint[] sorted, uint x)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (sorted[mid] <= x) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    private static RoaringBitmap Build(uint[] values, int how, Random rng)
    {
        switch (how)
        {
            case 0:
                {
                    var b = new RoaringBitmap();
                    foreach (var v in values) b.Add(v);
                    return b;
                }
            case 1:
                return RoaringBitmap.FromValues(values);
            default:
                {
                    var b = RoaringBitmap.FromValues(values);
                    b.RunOptimize();
                    if (rng.Next(2) == 0) b = RoaringBitmap.Deserialize(b.Serialize());
                    return b;
                }
        }
    }

    [Fact]
    public void Matches_a_hash_set_for_random_inputs_of_every_shape()
    {
        for (int seed = 0; seed < 240; seed++)
        {
            var rng = new Random(seed);
            var values = RandomValues(rng, seed % 6);
            var bitmap = Build(values, seed / 6 % 3, rng);
            ShouldMatch(bitmap, [.. values], rng);
        }
    }

    [Fact]
    public void Set_operations_match_hash_set_operations()
    {
        for (int seed = 0; seed < 300; seed++)
        {
            var rng = new Random(1000 + seed);
            var va = RandomValues(rng, rng.Next(6));
            var vb = rng.Next(3) == 0 ? va.Where(_ => rng.Next(2) == 0).Concat(RandomValues(rng, rng.Next(6))).ToArray() : RandomValues(rng, rng.Next(6));
            var a = Build(va, rng.Next(3), rng);
            var b = Build(vb, rng.Next(3), rng);
            HashSet<uint> sa = [.. va], sb = [.. vb];

            var and = new HashSet<uint>(sa); and.IntersectWith(sb);
            var or = new HashSet<uint>(sa); or.UnionWith(sb);
            var andNot = new HashSet<uint>(sa); andNot.ExceptWith(sb);
            var xor = new HashSet<uint>(sa); xor.SymmetricExceptWith(sb);

            ShouldMatch(RoaringBitmap.And(a, b), and, rng);
            ShouldMatch(RoaringBitmap.Or(a, b), or, rng);
            ShouldMatch(RoaringBitmap.AndNot(a, b), andNot, rng);
            ShouldMatch(RoaringBitmap.Xor(a, b), xor, rng);
            RoaringBitmap.AndCardinality(a, b).ShouldBe(and.Count);
            RoaringBitmap.OrCardinality(a, b).ShouldBe(or.Count);
            RoaringBitmap.Intersects(a, b).ShouldBe(and.Count > 0);

            var inPlace = a.Clone(); inPlace.AndWith(b); ShouldMatch(inPlace, and, rng);
            inPlace = a.Clone(); inPlace.OrWith(b); ShouldMatch(inPlace, or, rng);
            inPlace = a.Clone(); inPlace.AndNotWith(b); ShouldMatch(inPlace, andNot, rng);
            inPlace = a.Clone(); inPlace.XorWith(b); ShouldMatch(inPlace, xor, rng);

            // The inputs are untouched by all of the above.
            ShouldMatch(a, sa, rng);
            ShouldMatch(b, sb, rng);
        }
    }

    [Fact]
    public void Add_and_remove_track_a_hash_set_through_conversions()
    {
        for (int seed = 0; seed < 40; seed++)
        {
            var rng = new Random(5000 + seed);
            var bitmap = Build(RandomValues(rng, seed % 6), seed % 3, rng);
            var set = new HashSet<uint>(bitmap);
            var pool = set.ToArray();
            for (int op = 0; op < 6000; op++)
            {
                uint v = pool.Length > 0 && rng.Next(2) == 0 ? pool[rng.Next(pool.Length)] : (uint)(rng.Next(0, 3) << 16 | rng.Next(0, 65536));
                if (rng.Next(2) == 0) bitmap.Add(v).ShouldBe(set.Add(v));
                else bitmap.Remove(v).ShouldBe(set.Remove(v));
            }
            ShouldMatch(bitmap, set, rng);
        }
    }

    [Fact]
    public void Removing_everything_leaves_an_empty_bitmap()
    {
        var rng = new Random(3);
        var values = RandomValues(rng, 1);
        var bitmap = RoaringBitmap.FromValues(values);
        foreach (var v in values.Distinct()) bitmap.Remove(v).ShouldBeTrue();
        bitmap.IsEmpty.ShouldBeTrue();
        bitmap.Cardinality.ShouldBe(0);
        bitmap.ContainerCount.ShouldBe(0);
        Should.Throw<InvalidOperationException>(() => bitmap.Min);
    }

    [Fact]
    public void Converts_between_array_and_bitset_at_4096()
    {
        var bitmap = new RoaringBitmap();
        for (uint i = 0; i < 4096; i++) bitmap.Add(i * 2);
        bitmap.GetSerializedSize().ShouldBe(8 + 5 + 4096 * 2); // still an array
        bitmap.Add(1);
        bitmap.GetSerializedSize().ShouldBe(8 + 5 + 8192); // now a bitset
        bitmap.Cardinality.ShouldBe(4097);
        bitmap.Remove(1);
        bitmap.GetSerializedSize().ShouldBe(8 + 5 + 4096 * 2); // back to an array
        bitmap.Cardinality.ShouldBe(4096);
        bitmap.Contains(8190).ShouldBeTrue();
        bitmap.Contains(1).ShouldBeFalse();
    }

    [Fact]
    public void Handles_a_full_chunk_and_the_edges_of_the_value_space()
    {
        var full = RoaringBitmap.FromRange(65536, 131071);
        full.Cardinality.ShouldBe(65536);
        full.Contains(65535).ShouldBeFalse();
        full.Contains(65536).ShouldBeTrue();
        full.Contains(131071).ShouldBeTrue();
        full.Contains(131072).ShouldBeFalse();
        full.Rank(131071).ShouldBe(65536);
        full.Select(65535).ShouldBe(131071u);
        full.RunOptimize().ShouldBeTrue();
        full.GetSerializedSize().ShouldBe(8 + 5 + 4);
        RoaringBitmap.Deserialize(full.Serialize()).ShouldBe(full);
        full.Count().ShouldBe(65536);

        var edges = RoaringBitmap.FromValues([0u, 65535u, 65536u, uint.MaxValue]);
        edges.ToArray().ShouldBe([0u, 65535u, 65536u, uint.MaxValue]);
        edges.Min.ShouldBe(0u);
        edges.Max.ShouldBe(uint.MaxValue);
        edges.Rank(uint.MaxValue).ShouldBe(4);
        edges.Rank(0).ShouldBe(1);
        edges.Select(3).ShouldBe(uint.MaxValue);

        var top = RoaringBitmap.FromRange(uint.MaxValue - 70000, uint.MaxValue);
        top.Cardinality.ShouldBe(70001);
        top.Max.ShouldBe(uint.MaxValue);
        top.Remove(uint.MaxValue).ShouldBeTrue();
        top.Max.ShouldBe(uint.MaxValue - 1);

        var single = new RoaringBitmap();
        single.Add(42).ShouldBeTrue();
        single.Add(42).ShouldBeFalse();
        single.ToArray().ShouldBe([42u]);
        (single & full).IsEmpty.ShouldBeTrue();

        var empty = new RoaringBitmap();
        empty.Cardinality.ShouldBe(0);
        empty.ToArray().ShouldBeEmpty();
        RoaringBitmap.Or(empty, empty).IsEmpty.ShouldBeTrue();
        RoaringBitmap.OrMany([]).IsEmpty.ShouldBeTrue();
        RoaringBitmap.Deserialize(empty.Serialize()).IsEmpty.ShouldBeTrue();
        Should.Throw<InvalidOperationException>(() => empty.Max);
        Should.Throw<ArgumentOutOfRangeException>(() => empty.Select(0));
    }

    [Fact]
    public void From_sorted_skips_duplicates_and_rejects_descending_input()
    {
        RoaringBitmap.FromSorted([1u, 1u, 2u, 70000u, 70000u]).ToArray().ShouldBe([1u, 2u, 70000u]);
        Should.Throw<ArgumentException>(() => RoaringBitmap.FromSorted([1u, 3u, 2u]));
        Should.Throw<ArgumentException>(() => RoaringBitmap.FromSorted([70000u, 3u]));
        var b = RoaringBitmap.FromSorted([5u, 100000u]);
        b.AddSorted([1u, 5u, 6u, 200000u]);
        b.ToArray().ShouldBe([1u, 5u, 6u, 100000u, 200000u]);
    }

    [Fact]
    public void Or_many_equals_the_union_of_all()
    {
        for (int seed = 0; seed < 30; seed++)
        {
            var rng = new Random(7000 + seed);
            var bitmaps = new RoaringBitmap[rng.Next(1, 40)];
            var union = new HashSet<uint>();
            for (int i = 0; i < bitmaps.Length; i++)
            {
                var v = RandomValues(rng, rng.Next(6));
                union.UnionWith(v);
                bitmaps[i] = Build(v, rng.Next(3), rng);
            }
            var before = bitmaps.Select(b => b.ToArray()).ToArray();
            ShouldMatch(RoaringBitmap.OrMany(bitmaps), union, rng);
            for (int i = 0; i < bitmaps.Length; i++) bitmaps[i].ToArray().ShouldBe(before[i]);
        }
    }

    [Fact]
    public void Results_do_not_share_state_with_their_inputs()
    {
        var a = RoaringBitmap.FromRange(0, 10000);
        var b = RoaringBitmap.FromRange(5000, 20000);
        var union = a | b;
        var many = RoaringBitmap.OrMany([a, b]);
        var clone = a.Clone();
        union.Add(50000);
        union.Remove(1);
        many.Remove(2);
        clone.Remove(3);
        a.Contains(1).ShouldBeTrue();
        a.Contains(2).ShouldBeTrue();
        a.Contains(3).ShouldBeTrue();
        a.Cardinality.ShouldBe(10001);
        b.Cardinality.ShouldBe(15001);
    }

    [Fact]
    public void Serialization_round_trips_through_bytes_spans_and_streams()
    {
        for (int seed = 0; seed < 60; seed++)
        {
            var rng = new Random(9000 + seed);
            var bitmap = Build(RandomValues(rng, seed % 6), seed % 3, rng);
            var bytes = bitmap.Serialize();
            bytes.Length.ShouldBe(bitmap.GetSerializedSize());
            bytes[0..4].ShouldBe("HRB\u0001"u8.ToArray());
            RoaringBitmap.Deserialize(bytes).ShouldBe(bitmap);

            var span = new byte[bytes.Length + 10];
            bitmap.Serialize(span.AsSpan()).ShouldBe(bytes.Length);
            RoaringBitmap.Deserialize(span.AsSpan(0, bytes.Length)).ToArray().ShouldBe(bitmap.ToArray());

            using var stream = new MemoryStream();
            bitmap.Serialize(stream);
            stream.WriteByte(0xAB); // the reader must stop at the bitmap's end
            stream.Position = 0;
            RoaringBitmap.Deserialize(stream).ShouldBe(bitmap);
            stream.ReadByte().ShouldBe(0xAB);
        }
    }

    [Fact]
    public void Truncated_input_is_rejected_with_a_clear_error()
    {
        var bitmap = RoaringBitmap.FromValues([1u, 2u, 3u, 100000u]);
        bitmap.AddRange(200000, 210000);
        bitmap.AddRange(300000, 300100);
        bitmap.RunOptimize();
        var bytes = bitmap.Serialize();
        for (int len = 0; len < bytes.Length; len++)
        {
            var e = Should.Throw<InvalidDataException>(() => RoaringBitmap.Deserialize(bytes.AsSpan(0, len)));
            e.Message.ShouldStartWith("Corrupt roaring bitmap");
            Should.Throw<InvalidDataException>(() => RoaringBitmap.Deserialize(new MemoryStream(bytes, 0, len)));
        }
        Should.Throw<InvalidDataException>(() => RoaringBitmap.Deserialize([.. bytes, 0]));
    }

    [Fact]
    public void Specific_corruptions_are_named()
    {
        var bytes = RoaringBitmap.FromValues([1u, 2u, 70000u]).Serialize();
        Corrupted(bytes, b => b[0] = (byte)'X').Message.ShouldContain("magic");
        Corrupted(bytes, b => b[3] = 9).Message.ShouldContain("version 9");
        Corrupted(bytes, b => b[4] = 200).Message.ShouldContain("headers");
        Corrupted(bytes, b => { b[13] = 0; b[14] = 0; }).Message.ShouldContain("does not follow key"); // second key = first key
        Corrupted(bytes, b => b[10] = 7).Message.ShouldContain("unknown kind 7");
        Corrupted(bytes, b => { b[18] = 1; b[19] = 0; b[20] = 1; b[21] = 0; }).Message.ShouldContain("does not follow"); // values 1,1

        var dense = RoaringBitmap.FromRange(0, 9999).Serialize();
        Corrupted(dense, b => b[20] ^= 1).Message.ShouldContain("holds");

        var runs = RoaringBitmap.FromRange(10, 20);
        runs.AddRange(30, 40);
        runs.RunOptimize();
        var rb = runs.Serialize();
        Corrupted(rb, b => b[17] = 21).Message.ShouldContain("starts at 21"); // second run adjacent to the first
        Corrupted(rb, b => { b[19] = 0xFF; b[20] = 0xFF; }).Message.ShouldContain("past 65535");
    }

    private static InvalidDataException Corrupted(byte[] original, Action<byte[]> damage)
    {
        var copy = (byte[])original.Clone();
        damage(copy);
        return Should.Throw<InvalidDataException>(() => RoaringBitmap.Deserialize(copy));
    }

    [Fact]
    public void Random_byte_damage_never_crashes_or_yields_an_invalid_bitmap()
    {
        var rng = new Random(11);
        for (int round = 0; round < 400; round++)
        {
            var bitmap = Build(RandomValues(rng, round % 6), 2, rng);
            var bytes = bitmap.Serialize();
            if (bytes.Length == 0) continue;
            for (int k = rng.Next(1, 4); k > 0; k--) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            RoaringBitmap decoded;
            try { decoded = RoaringBitmap.Deserialize(bytes); }
            catch (InvalidDataException) { continue; }
            // Accepted input must be a well-formed bitmap that behaves like the set it enumerates.
            ShouldMatch(decoded, [.. decoded.ToArray()], rng);
            RoaringBitmap.Deserialize(decoded.Serialize()).ShouldBe(decoded);
        }
    }
}
