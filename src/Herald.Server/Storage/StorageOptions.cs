using System.ComponentModel.DataAnnotations;

namespace Herald.Server.Storage;

public enum StorageProvider { Sqlite, Postgres }

/// <summary>Bound from <c>Herald:Storage</c>.</summary>
public sealed class StorageOptions
{
    public const string Section = "Herald:Storage";

    /// <summary>SQLite by default: one file, zero set-up. PostgreSQL for production and several nodes.</summary>
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>
    /// For SQLite, optional: defaults to <c>{DataDirectory}/herald.db</c>. For PostgreSQL, required
    /// (an Npgsql connection string).
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Where the embedded database and other local files live.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";
}
