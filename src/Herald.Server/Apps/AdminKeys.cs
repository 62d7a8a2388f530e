using Dapper;
using Herald.Server.Infrastructure;
using Herald.Server.Storage;

namespace Herald.Server.Apps;

/// <summary>
/// Installation-level keys for the admin API (creating apps). Created by the CLI
/// (<c>herald admin-key create</c>) or printed once on the first start.
/// </summary>
public sealed class AdminKeys(Db db, TimeProvider clock)
{
    public async Task<string> CreateAsync(CancellationToken ct)
    {
        var secret = ApiKeys.NewSecret("hak_");
        await using var conn = await db.OpenAsync(ct);
        await conn.ExecuteAsync("INSERT INTO admin_keys (key_hash, prefix, created_at) VALUES (@h, @p, @now)",
            new { h = ApiKeys.Hash(secret), p = ApiKeys.PrefixOf(secret), now = clock.GetUtcNow().ToUnixTimeMilliseconds() });
        return secret;
    }

    public async Task<bool> IsValidAsync(string key, CancellationToken ct)
    {
        await using var conn = await db.OpenAsync(ct);
        return await conn.ExecuteScalarAsync<long?>("SELECT id FROM admin_keys WHERE key_hash = @h AND revoked_at IS NULL",
            new { h = ApiKeys.Hash(key) }) is not null;
    }
}

public sealed record AdminAuth
{
    public static async ValueTask<AdminAuth?> BindAsync(HttpContext http)
    {
        var key = KeyAuth.ReadKey(http.Request)
            ?? throw ProblemException.Unauthorized("No admin key: send 'Authorization: Bearer hak_…' (created by 'herald admin-key create').");
        if (!await http.RequestServices.GetRequiredService<AdminKeys>().IsValidAsync(key, http.RequestAborted))
            throw ProblemException.Unauthorized("The admin key is unknown or revoked.");
        return new AdminAuth();
    }
}
