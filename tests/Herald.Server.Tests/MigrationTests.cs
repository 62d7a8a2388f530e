using Dapper;
using Herald.Server.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Herald.Tests;

/// <summary>Upgrade paths of the schema that move data, on a database of their own.</summary>
public abstract class MigrationTests(HeraldHost host)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract Task<StorageOptions> FreshDatabaseAsync();

    [Fact]
    public async Task Messages_queued_before_the_send_queue_became_batches_are_still_sent()
    {
        await using var db = new Db(Options.Create(await FreshDatabaseAsync()));
        var migrator = new Migrator(db, host.Clock, NullLogger<Migrator>.Instance);
        await migrator.MigrateAsync(Ct, upTo: 16);
        await using (var conn = await db.OpenAsync(Ct))
        {
            // 2,500 rows due together (three batches), one due later, one urgent, a claim in flight
            // (SQLite's "sending"), two held for an A/B winner, and rows already done.
            var rows = Enumerable.Range(0, 2500).Select(r => (Campaign: 1L, Recipient: r, State: "queued", Due: 1000L, Priority: 0))
                .Concat(new (long Campaign, int Recipient, string State, long Due, int Priority)[]
                {
                    (1, 2500, "queued", 5000, 0), (1, 2501, "sending", 1000, 0), (2, 0, "queued", 1000, 1),
                    (3, 0, "held", 9000, 0), (3, 1, "held", 9000, 0), (1, 2502, "sent", 1000, 0), (1, 2503, "skipped", 1000, 0),
                });
            await conn.ExecuteAsync(
                """
                INSERT INTO deliveries (app_id, campaign_id, recipient, message_id, priority, state, due_at, updated_at, lease_until)
                VALUES (1, @Campaign, @Recipient, 'm', @Priority, @State, @Due, 0, CASE WHEN @State = 'sending' THEN 1 END)
                """, rows.Select(r => new { r.Campaign, r.Recipient, r.State, r.Due, r.Priority }));
        }
        await migrator.MigrateAsync(Ct);

        await using var check = await db.OpenAsync(Ct);
        var batches = (await check.QueryAsync<(long Campaign, int Priority, long Due, bool Held, string Recipients)>(
            $"SELECT campaign_id, priority, due_at, held, {(db.IsPostgres ? "array_to_string(recipients, ',')" : "recipients")} FROM delivery_batches ORDER BY campaign_id, due_at, id")).ToList();
        static int[] Keys(string list) => list.Trim('[', ']').Split(',').Select(int.Parse).ToArray();
        var first = batches.Where(b => b.Campaign == 1 && b.Due == 1000).ToList();
        first.Count.ShouldBe(3);
        first.Select(b => Keys(b.Recipients).Length).ShouldAllBe(n => n <= 1000);
        first.SelectMany(b => Keys(b.Recipients)).Order().ShouldBe(Enumerable.Range(0, 2500).Append(2501));
        batches.Single(b => b.Campaign == 1 && b.Due == 5000).Recipients.ShouldContain("2500");
        batches.Single(b => b.Campaign == 2).ShouldSatisfyAllConditions(b => b.Priority.ShouldBe(1), b => b.Held.ShouldBeFalse());
        var held = batches.Single(b => b.Campaign == 3);
        held.Held.ShouldBeTrue();
        Keys(held.Recipients).Order().ShouldBe([0, 1]);
        // The claim in flight is queued again (its batch is resent with the same collapse id).
        (await check.ExecuteScalarAsync<string>("SELECT state FROM deliveries WHERE campaign_id = 1 AND recipient = 2501")).ShouldBe("queued");
        (await check.ExecuteScalarAsync<long>("SELECT count(*) FROM deliveries WHERE state = 'sending'")).ShouldBe(0);
    }
}

[Collection(SqliteCollection.Name)]
public sealed class MigrationTestsSqlite(SqliteHost host) : MigrationTests(host)
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"herald-migration-{Guid.NewGuid():N}");

    protected override Task<StorageOptions> FreshDatabaseAsync() =>
        Task.FromResult(new StorageOptions { Provider = StorageProvider.Sqlite, DataDirectory = _dir });
}

[Collection(PostgresCollection.Name)]
public sealed class MigrationTestsPostgres(PostgresHost host) : MigrationTests(host)
{
    protected override async Task<StorageOptions> FreshDatabaseAsync() =>
        new() { Provider = StorageProvider.Postgres, ConnectionString = await host.Cluster.CreateDatabaseAsync($"herald_migration_{Guid.NewGuid():N}") };
}
