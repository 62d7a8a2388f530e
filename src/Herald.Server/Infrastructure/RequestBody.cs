using System.Buffers;
using System.IO.Compression;
using Microsoft.AspNetCore.Http.Features;

namespace Herald.Server.Infrastructure;

/// <summary>
/// Reads a request body into memory with a hard byte limit, transparently inflating
/// <c>Content-Encoding: gzip</c> (whatever the Content-Type claims). The limit applies to the
/// inflated bytes too, so a gzip bomb stops at the limit instead of filling memory.
/// </summary>
public static class RequestBody
{
    public static async Task<byte[]> ReadAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        // The compressed body can be no larger than the inflated limit.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } f)
            f.MaxRequestBodySize = maxBytes + 1L;
        if (request.ContentLength > maxBytes)
            throw TooLarge(maxBytes, request.ContentLength.Value);

        Stream source = request.Body;
        var encoding = request.Headers.ContentEncoding.ToString();
        var gzip = encoding.Contains("gzip", StringComparison.OrdinalIgnoreCase);
        if (gzip)
            source = new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true);
        else if (encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
            throw new ProblemException(415, "Unsupported content encoding",
                $"Content-Encoding '{encoding}' is not supported; send the body plain or gzip-compressed.", "Content-Encoding");

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, 64 * 1024));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes) throw TooLarge(maxBytes, null);
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                int n;
                try
                {
                    n = await source.ReadAsync(buffer.AsMemory(length), ct);
                }
                catch (InvalidDataException e) when (gzip)
                {
                    throw ProblemException.BadRequest($"The gzip body could not be inflated: {e.Message}", "Content-Encoding");
                }
                catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
                {
                    throw TooLarge(maxBytes, null);
                }
                if (n == 0) break;
                length += n;
                if (length > maxBytes) throw TooLarge(maxBytes, null);
            }
            return buffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (gzip) await source.DisposeAsync();
        }
    }

    private static ProblemException TooLarge(int maxBytes, long? got) =>
        ProblemException.TooLarge(
            got is { } g
                ? $"The request body is {g} bytes; the limit is {maxBytes} bytes."
                : $"The request body (after decompression) exceeds the limit of {maxBytes} bytes.",
            "body", maxBytes);
}

/// <summary>
/// A bound on the JSON bodies of the REST and SDK APIs (campaign definitions, settings, positions, …):
/// 1 MiB, far above any real definition, so a runaway client is answered 413 naming the limit
/// instead of being read. Event batches keep their own, smaller limits; endpoints that take files
/// (CSV, widget assets) are not JSON and keep theirs.
/// </summary>
public static class JsonBodyLimit
{
    public const int MaxBytes = 1024 * 1024;

    public static IApplicationBuilder UseJsonBodyLimit(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        if ((request.Path.StartsWithSegments("/api") || request.Path.StartsWithSegments("/sdk")) && request.HasJsonContentType())
        {
            if (request.ContentLength > MaxBytes)
                throw ProblemException.TooLarge($"A JSON body may be at most {MaxBytes:N0} bytes; this one is {request.ContentLength:N0}.", "body", MaxBytes);
            // A body without a length stops at the limit while it is read.
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } f)
                f.MaxRequestBodySize = MaxBytes;
        }
        await next(context);
    });
}
