using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Herald.Server.Ingest;

namespace Herald.Bench;

internal static class ParseProbe
{
    public static int Run()
    {
        var sb = new StringBuilder();
        sb.Append("{\"installationId\":\"abc\",\"events\":[");
        for (var k = 0; k < 50; k++)
        {
            if (k > 0) sb.Append(',');
            sb.Append("{\"messageId\":\"m-").Append(k).Append("\",\"name\":\"view_item\",\"timestamp\":1795616782717,\"attributes\":{\"sku\":\"SKU-1\",\"price\":12.5,\"query\":\"kırmızı 3\"}}");
        }
        sb.Append("]}");
        var body = Encoding.UTF8.GetBytes(sb.ToString());
        var o = new IngestOptions();
        for (var round = 0; round < 3; round++)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < 20_000; i++)
            {
                System.Text.Unicode.Utf8.IsValid(body);
                using var doc = JsonDocument.Parse(body);
                var p = new IngestParser(o, 1795616782717);
                p.HeraldEvents(doc.RootElement);
            }
            Console.WriteLine($"parse: {1_000_000 / sw.Elapsed.TotalSeconds:N0} events/s on one core");
        }
        return 0;
    }
}
