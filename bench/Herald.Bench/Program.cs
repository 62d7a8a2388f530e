// Macro benchmarks: `dotnet run -c Release --project bench/Herald.Bench -- <name> [options]`.
// Each benchmark measures Herald against a peer in the same run and prints medians and the ratio.
var name = args.Length > 0 ? args[0] : "";
var rest = args.Skip(1).ToArray();
switch (name)
{
    case "ingest":
        return await Herald.Bench.IngestBench.RunAsync(rest);
    case "analytics":
        return Herald.Bench.AnalyticsBench.Run(rest);
    case "analytics-db":
        return await Herald.Bench.AnalyticsDbBench.RunAsync(rest);
    case "campaign":
        return await Herald.Bench.CampaignBench.RunAsync(rest);
    case "realtime":
        return await Herald.Bench.RealtimeBench.RunAsync(rest);
    case "export":
        return await Herald.Bench.ExportBench.RunAsync(rest);
    case "gateway":
        return await Herald.Bench.GatewayBench.RunAsync(rest);
    default:
        Console.Error.WriteLine("usage: herald-bench ingest|analytics|analytics-db|campaign|realtime|gateway|export [options]");
        return 2;
}
