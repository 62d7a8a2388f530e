using System.Numerics;
using Herald.Domain.Analytics;

namespace Herald.Domain.Tests.Analytics;

public class HyperLogLogTests
{
    private static HyperLogLog Sketch(int precision, uint first, int count)
    {
        var hll = new HyperLogLog(precision);
        for (int i = 0; i < count; i++) hll.AddOrdinal(first + (uint)i);
        return hll;
    }

    [Fact]
    public void Small_sets_are_counted_almost_exactly_in_sparse_mode()
    {
        var rng = new Random(1);
        for (int n = 0; n <= 4000; n += n < 200 ? 1 : 97)
        {
            var hll = new HyperLogLog(14);
            var seen = new HashSet<string>();
            while (seen.Count < n)
            {
                var id = $"device-{rng.Next()}";
                seen.Add(id);
                hll.AddString(id);
                if (rng.Next(4) == 0) hll.AddString(id); // repeats change nothing
            }
            hll.IsSparse.ShouldBeTrue();
            Math.Abs(hll.Count() - n).ShouldBeLessThanOrEqualTo(n <= 200 ? 0 : 2, $"n = {n}");
        }
        var big = Sketch(18, 0, 65000);
        big.IsSparse.ShouldBeTrue();
        Math.Abs(big.Estimate() - 65000).ShouldBeLessThan(65);
    }

    [Theory]
    [InlineData(14, 10_000, 50)]
    [InlineData(14, 100_000, 20)]
    [InlineData(14, 1_000_000, 5)]
    [InlineData(10, 3_000, 40)] // dense with small cardinality: the range linear counting used to cover
    [InlineData(10, 50_000, 40)]
    [InlineData(17, 1_000_000, 3)]
    public void Estimates_stay_within_three_standard_errors(int precision, int n, int seeds)
    {
        double sumSigned = 0;
        for (int seed = 0; seed < seeds; seed++)
        {
            var hll = Sketch(precision, (uint)seed * 7_919_003u, n);
            double relative = (hll.Estimate() - n) / n;
            Math.Abs(relative).ShouldBeLessThan(3 * hll.StandardError, $"seed {seed}: estimate {hll.Estimate():F0} for {n}");
            sumSigned += relative;
        }
        // No systematic bias: the mean error of `seeds` runs shrinks like 1/sqrt(seeds).
        double se = 1.04 / Math.Sqrt(1 << precision);
        Math.Abs(sumSigned / seeds).ShouldBeLessThan(3 * se / Math.Sqrt(seeds) + 1e-3);
    }

    [Fact]
    public void Standard_error_follows_the_register_count()
    {
        new HyperLogLog(14).StandardError.ShouldBe(1.04 / 128, 1e-12);
        new HyperLogLog(4).RegisterCount.ShouldBe(16);
        Should.Throw<ArgumentOutOfRangeException>(() => new HyperLogLog(3));
        Should.Throw<ArgumentOutOfRangeException>(() => new HyperLogLog(19));
        new HyperLogLog(14).Estimate().ShouldBe(0);
    }

    [Theory]
    [InlineData(100, 100)]       // sparse + sparse
    [InlineData(200, 30_000)]    // sparse + dense
    [InlineData(30_000, 200)]    // dense + sparse
    [InlineData(50_000, 80_000)] // dense + dense
    [InlineData(2_000, 2_500)]   // sparse + sparse whose union turns dense
    public void Merge_equals_the_sketch_of_the_union(int na, int nb)
    {
        foreach (int p in new[] { 12, 14 })
        {
            var a = Sketch(p, 0, na);
            var b = Sketch(p, (uint)(na / 2), nb); // overlaps half of a
            var union = new HyperLogLog(p);
            for (uint i = 0; i < Math.Max(na, na / 2 + nb); i++) union.AddOrdinal(i);

            var merged = a.Clone();
            merged.Merge(b);
            merged.Serialize().ShouldBe(union.Serialize());
            merged.Estimate().ShouldBe(union.Estimate());
            b.Serialize().ShouldBe(Sketch(p, (uint)(na / 2), nb).Serialize()); // b untouched
        }
        Should.Throw<ArgumentException>(() => new HyperLogLog(12).Merge(new HyperLogLog(13)));
    }

    [Fact]
    public void Serialization_round_trips_both_modes()
    {
        foreach (var (p, n) in new[] { (4, 0), (4, 3), (4, 1000), (14, 10), (14, 3000), (14, 20000), (18, 100) })
        {
            var hll = Sketch(p, 5, n);
            var bytes = hll.Serialize();
            var back = HyperLogLog.Deserialize(bytes);
            back.Precision.ShouldBe(p);
            back.IsSparse.ShouldBe(hll.IsSparse);
            back.Estimate().ShouldBe(hll.Estimate());
            back.Serialize().ShouldBe(bytes);
            back.AddOrdinal(999_999); // a deserialized sketch keeps working
        }
    }

    [Fact]
    public void Corrupt_sketches_are_rejected_with_a_clear_error()
    {
        foreach (var hll in new[] { Sketch(10, 0, 50), Sketch(10, 0, 5000) })
        {
            var bytes = hll.Serialize();
            for (int len = 0; len < bytes.Length; len++)
                Should.Throw<InvalidDataException>(() => HyperLogLog.Deserialize(bytes.AsSpan(0, len)))
                    .Message.ShouldStartWith("Corrupt HyperLogLog sketch");
            Should.Throw<InvalidDataException>(() => HyperLogLog.Deserialize([.. bytes, 1]));
        }
        var sparse = Sketch(10, 0, 50).Serialize();
        Damaged(sparse, b => b[3] = 2).Message.ShouldContain("version 2");
        Damaged(sparse, b => b[4] = 19).Message.ShouldContain("precision 19");
        Damaged(sparse, b => b[5] = 7).Message.ShouldContain("mode 7");
        Damaged(sparse, b => b[10] = 0).Message.ShouldContain("rank 0");
        Damaged(sparse, b => b[13] = 0xFF).Message.ShouldContain("beyond 25 bits");
        Damaged(sparse, b => { for (int i = 0; i < 4; i++) b[14 + i] = b[10 + i]; }).Message.ShouldContain("out of order");
        Damaged(Sketch(10, 0, 5000).Serialize(), b => b[6] = 200).Message.ShouldContain("register value 200");

        var rng = new Random(5);
        for (int round = 0; round < 500; round++)
        {
            var bytes = Sketch(rng.Next(4, 12), (uint)rng.Next(), rng.Next(0, 3000)).Serialize();
            bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            try
            {
                var h = HyperLogLog.Deserialize(bytes);
                double e = h.Estimate();
                double.IsFinite(e).ShouldBeTrue();
                e.ShouldBeGreaterThanOrEqualTo(0);
            }
            catch (InvalidDataException) { }
        }
    }

    private static InvalidDataException Damaged(byte[] original, Action<byte[]> damage)
    {
        var copy = (byte[])original.Clone();
        damage(copy);
        return Should.Throw<InvalidDataException>(() => HyperLogLog.Deserialize(copy));
    }

    [Fact]
    public void Hashes_are_stable_and_well_mixed()
    {
        // Pinned: sketches are persisted and merged across versions, so the hash must never change.
        Hash64.String("").ShouldBe(Hash64.Bytes([]));
        Hash64.String("device-1").ShouldBe(Hash64.Bytes("device-1"u8));
        Hash64.Ordinal(0).ShouldNotBe(0UL);
        Hash64.String("héllo").ShouldNotBe(Hash64.String("hello"));

        var strings = new HashSet<ulong>();
        var ordinals = new HashSet<ulong>();
        var bitCounts = new int[64];
        const int n = 100_000;
        for (int i = 0; i < n; i++)
        {
            strings.Add(Hash64.String("user-" + i)).ShouldBeTrue();
            ulong h = Hash64.Ordinal((uint)i);
            ordinals.Add(h).ShouldBeTrue();
            for (int b = 0; b < 64; b++) bitCounts[b] += (int)((h >> b) & 1);
        }
        foreach (int c in bitCounts) Math.Abs(c - n / 2).ShouldBeLessThan(1500); // ~9.5 sigma

        // Flipping one input bit flips about half of the output bits.
        var rng = new Random(9);
        double flips = 0;
        for (int i = 0; i < 2000; i++)
        {
            var data = new byte[rng.Next(1, 40)];
            rng.NextBytes(data);
            ulong before = Hash64.Bytes(data);
            data[rng.Next(data.Length)] ^= (byte)(1 << rng.Next(8));
            flips += BitOperations.PopCount(before ^ Hash64.Bytes(data));
        }
        (flips / 2000).ShouldBeInRange(30.0, 34.0);
    }
}
