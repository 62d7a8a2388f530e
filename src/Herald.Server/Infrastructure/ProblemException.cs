namespace Herald.Server.Infrastructure;

/// <summary>
/// An error a caller can act on, answered as RFC 9457 problem details. <see cref="Field"/> names the
/// offending input (a JSON path, a CSV line, a header) and <see cref="Limit"/> the bound it broke.
/// </summary>
public sealed class ProblemException(int status, string title, string detail, string? field = null, object? limit = null)
    : Exception(detail)
{
    public int Status { get; } = status;
    public string Title { get; } = title;
    public string? Field { get; } = field;
    public object? Limit { get; } = limit;
    public IDictionary<string, object?> Extensions { get; } = new Dictionary<string, object?>();

    public static ProblemException BadRequest(string detail, string? field = null, object? limit = null) =>
        new(StatusCodes.Status400BadRequest, "Invalid request", detail, field, limit);

    public static ProblemException NotFound(string what) =>
        new(StatusCodes.Status404NotFound, "Not found", $"{what} was not found.");

    public static ProblemException Unauthorized(string detail) =>
        new(StatusCodes.Status401Unauthorized, "Unauthorized", detail);

    public static ProblemException TooLarge(string detail, string? field, object limit) =>
        new(StatusCodes.Status413PayloadTooLarge, "Payload too large", detail, field, limit);

    public static ProblemException Unprocessable(string detail, string? field = null, object? limit = null) =>
        new(StatusCodes.Status422UnprocessableEntity, "Unprocessable content", detail, field, limit);
}
