using Herald.Domain.Analytics;

namespace Herald.Domain.Tests.Analytics;

public class RetentionEngineTests
{
    private const long Day = 86_400_000;
    private const long Start = 1_700_000_000_000;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Matches_a_brute_force_count(bool weekly)
    {
        for (int seed = 0; seed < 60; seed++)
        {
            var rng = new Random(seed);
            var entries = new List<(uint O, long T)>();
            var returns = new List<(uint O, long T)>();
            for (int i = rng.Next(0, 300); i > 0; i--)
            {
                uint o = (uint)rng.Next(0, 400);
                entries.Add((o, Start + rng.NextInt64(0, 20 * Day)));
                for (int k = rng.Next(0, 6); k > 0; k--) returns.Add((o, Start + rng.NextInt64(-2 * Day, 60 * Day)));
            }
            for (int i = rng.Next(0, 50); i > 0; i--) returns.Add(((uint)rng.Next(0, 400), Start + rng.NextInt64(0, 60 * Day)));
            int periods = rng.Next(1, 12);
            var bucketOf = weekly ? RetentionEngine.Weeks(RetentionEngine.UtcDays) : RetentionEngine.UtcDays;
            RoaringBitmap? population = rng.Next(3) == 0 ? RoaringBitmap.FromValues(Enumerable.Range(0, 400).Where(_ => rng.Next(2) == 0).Select(i => (uint)i)) : null;

            var result = RetentionEngine.Compute(
                EventIndex.Build(entries.Select(e => e.O).ToArray(), entries.Select(e => e.T).ToArray()),
                EventIndex.Build(returns.Select(e => e.O).ToArray(), returns.Select(e => e.T).ToArray()),
                bucketOf, periods, population);

            // Reference: dictionaries and LINQ, no shared code with the engine.
            var expected = entries
                .Where(e => population is null || population.Contains(e.O))
                .GroupBy(e => e.O)
                .Select(g => (Ordinal: g.Key, Cohort: bucketOf(g.Min(e => e.T))))
                .GroupBy(x => x.Cohort)
                .OrderBy(g => g.Key)
                .Select(g => new
                {
                    Bucket = g.Key,
                    Size = g.Count(),
                    Returned = Enumerable.Range(1, periods)
                        .Select(d => g.Count(x => returns.Any(r => r.O == x.Ordinal && bucketOf(r.T) == g.Key + d)))
                        .ToArray(),
                })
                .ToArray();

            result.Periods.ShouldBe(periods);
            result.Cohorts.Select(c => c.Bucket).ShouldBe(expected.Select(e => e.Bucket));
            for (int i = 0; i < expected.Length; i++)
            {
                result.Cohorts[i].Size.ShouldBe(expected[i].Size);
                result.Cohorts[i].Returned.ShouldBe(expected[i].Returned, $"seed {seed}, cohort {expected[i].Bucket}");
            }
        }
    }

    [Fact]
    public void Day_buckets_follow_the_time_zone()
    {
        var tokyo = TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo");
        var days = RetentionEngine.Days(tokyo);
        long utcMidnight = new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        int utcDay = RetentionEngine.UtcDays(utcMidnight);
        days(utcMidnight).ShouldBe(utcDay);                       // 09:00 in Tokyo, same date
        days(utcMidnight + 15 * 3_600_000L).ShouldBe(utcDay + 1); // 00:00 next day in Tokyo
        RetentionEngine.UtcDays(utcMidnight - 1).ShouldBe(utcDay - 1);
        RetentionEngine.UtcDays(-1).ShouldBe(-1);

        var weeks = RetentionEngine.Weeks(RetentionEngine.UtcDays);
        long monday = new DateTimeOffset(2024, 3, 4, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        weeks(monday).ShouldBe(weeks(monday + 6 * Day + Day - 1));
        weeks(monday + 7 * Day).ShouldBe(weeks(monday) + 1);
        weeks(monday - 1).ShouldBe(weeks(monday) - 1);
    }

    [Fact]
    public void A_return_on_the_entry_day_does_not_count()
    {
        var entry = EventIndex.Build([1u, 2u], [Start, Start]);
        var back = EventIndex.Build([1u, 2u, 2u], [Start + 1000, Start + Day, Start + Day + 5]);
        var result = RetentionEngine.Compute(entry, back, t => (int)((t - Start) / Day), 3);
        var cohort = result.Cohorts.ShouldHaveSingleItem();
        cohort.Size.ShouldBe(2);
        cohort.Returned.ShouldBe([1, 0, 0]);
        cohort.Rate(1).ShouldBe(0.5);
    }
}
