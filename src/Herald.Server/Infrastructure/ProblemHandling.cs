using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Infrastructure;

/// <summary>
/// Turns every failure into problem details: our own <see cref="ProblemException"/>, the framework's
/// binding errors (with the JSON path of a wrong type), and anything unexpected as a 500 that never
/// takes the node down.
/// </summary>
public sealed partial class ProblemHandling(IProblemDetailsService problems, IHostEnvironment environment, ILogger<ProblemHandling> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        var pd = ToProblem(exception);
        if (pd.Status >= 500)
        {
            LogUnexpected(logger, exception, http.Request.Method, http.Request.Path);
            // Developers (and the tests, which run as Development) see what broke; production never does.
            if (environment.IsDevelopment()) pd.Extensions["exception"] = exception.ToString();
        }
        http.Response.StatusCode = pd.Status ?? 500;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = pd, Exception = exception });
    }

    public static ProblemDetails ToProblem(Exception exception)
    {
        switch (exception)
        {
            case ProblemException p:
                var pd = new ProblemDetails { Status = p.Status, Title = p.Title, Detail = p.Message };
                if (p.Field is not null) pd.Extensions["field"] = p.Field;
                if (p.Limit is not null) pd.Extensions["limit"] = p.Limit;
                foreach (var (k, v) in p.Extensions) pd.Extensions[k] = v;
                return pd;
            case BadHttpRequestException bad when FindJson(bad) is { } json:
                return JsonProblem(json);
            case JsonException json:
                return JsonProblem(json);
            case BadHttpRequestException bad:
                return new ProblemDetails { Status = bad.StatusCode, Title = "Invalid request", Detail = bad.Message };
            case OperationCanceledException:
                return new ProblemDetails { Status = 499, Title = "Request cancelled", Detail = "The client closed the request." };
            default:
                return new ProblemDetails
                {
                    Status = 500,
                    Title = "Internal error",
                    Detail = "Herald could not complete the request; nothing from it was stored. The error is logged; retry, and report it if it persists.",
                };
        }
    }

    private static JsonException? FindJson(Exception e)
    {
        for (var x = e.InnerException; x is not null; x = x.InnerException)
            if (x is JsonException j) return j;
        return null;
    }

    private static ProblemDetails JsonProblem(JsonException json)
    {
        var pd = new ProblemDetails
        {
            Status = 400,
            Title = "Invalid JSON",
            Detail = json.Path is { Length: > 0 } path
                ? $"The value at '{path}' is not valid: {FirstSentence(json.Message)}"
                : $"The body is not valid JSON: {FirstSentence(json.Message)}",
        };
        if (json.Path is { Length: > 0 }) pd.Extensions["field"] = json.Path;
        return pd;
    }

    private static string FirstSentence(string m)
    {
        var i = m.IndexOf(". ", StringComparison.Ordinal);
        return i > 0 ? m[..(i + 1)] : m;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error on {Method} {Path}")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method, string path);
}

public static class ProblemHandlingExtensions
{
    public static IHostApplicationBuilder AddProblemHandling(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            c.ProblemDetails.Instance ??= c.HttpContext.Request.Path;
            c.ProblemDetails.Type ??= $"https://herald.dev/problems/{c.ProblemDetails.Status}";
        });
        builder.Services.AddExceptionHandler<ProblemHandling>();
        return builder;
    }

    public static ProblemHttpResult ToResult(this ProblemException p) =>
        TypedResults.Problem(ProblemHandling.ToProblem(p));
}
