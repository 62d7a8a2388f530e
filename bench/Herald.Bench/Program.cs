// Macro benchmarks: `dotnet run -c Release --project bench/Herald.Bench -- <name> [options]`.
// Each benchmark measures Herald against a peer in the same run and prints medians and the ratio.
var name = args.Length > 0 ? args[0] : "";
var rest = args.Skip(1).ToArray();
switch (name)
{
    case "gateway":
        return await Herald.Bench.GatewayBench.RunAsync(rest);
    default:
        Console.Error.WriteLine("usage: herald-bench <benchmark> [options]");
        return 2;
}
