using System.Text;
using System.Text.Json;
using Herald.Server.Ingest;

namespace Herald.Tests;

/// <summary>
/// The one-pass SDK batch parser must agree with the JsonDocument parser on everything it accepts,
/// and hand everything else (errors, ambiguities) back to it.
/// </summary>
public sealed class IngestParserTests
{
    private const long Now = 1_795_000_000_000; // 2026-11-18
    private static readonly IngestOptions Options = new();

    private static string Batch(string events, string extra = "") =>
        $$"""{"installationId":"inst-1"{{extra}},"events":[{{events}}]}""";

    private static string Ev(string id, string rest = "") =>
        $$"""{"messageId":"{{id}}","name":"view","timestamp":{{Now - 60_000}}{{rest}}}""";

    /// <summary>Both parsers on the same bytes; returns whether the fast one took the batch.</summary>
    private static bool Compare(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var fast = new IngestParser(Options, Now);
        var took = fast.TryHeraldEventsUtf8(bytes);
        var slow = new IngestParser(Options, Now);
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 32 });
            slow.HeraldEvents(doc.RootElement);
        }
        catch (Exception) when (!took)
        {
            return false; // the slow path refuses the whole request; the fast one must not have taken it
        }
        if (!took)
        {
            fast.Ops.ShouldBeEmpty();
            return false;
        }
        slow.Rejected.ShouldBeEmpty();
        fast.Ops.Count.ShouldBe(slow.Ops.Count);
        for (var i = 0; i < fast.Ops.Count; i++)
        {
            var (f, s) = ((EventOp)fast.Ops[i], (EventOp)slow.Ops[i]);
            f.Index.ShouldBe(s.Index);
            var (a, b) = (f.Event, s.Event);
            a.MessageId.ShouldBe(b.MessageId);
            a.Name.ShouldBe(b.Name);
            a.Who.ShouldBe(b.Who);
            a.OccurredAt.ShouldBe(b.OccurredAt);
            a.PropertiesJson.ShouldBe(b.PropertiesJson);
            a.PropertiesUtf8.ToArray().ShouldBe(Encoding.UTF8.GetBytes(b.PropertiesJson));
            a.MessageRef.ShouldBe(b.MessageRef);
            a.Revenue.ShouldBe(b.Revenue);
            a.Currency.ShouldBe(b.Currency);
            a.Utm.ShouldBe(b.Utm);
            a.Platform.ShouldBe(b.Platform);
        }
        return true;
    }

    [Fact]
    public void Valid_batches_are_parsed_alike_by_both_paths()
    {
        string[] accepted =
        [
            Batch(Ev("a") + "," + Ev("b", ""","attributes":{"sku":"SKU-1","price":12.5,"query":"kırmızı 3"}""")),
            Batch(Ev("c", ""","attributes":{ "spaced" : [ "x" , 1, {"deep":[[["y"]]]} ] , "o":{"a":{"b":null}} }""")),
            Batch(Ev("d", ""","attributes":null,"extra":{"ignored":[1,2,3]}""")),
            Batch(Ev(@"e\""scaped\\\u00e7", ""","attributes":{"t\u00fcrk\u00e7e":"\u0130stanbul \ud83d\ude00","esc\"ape":"a\nb"}""")),
            Batch(Ev("f", ""","revenue":{"amount":9.99,"currency":"try"}""")),
            Batch(Ev("g", ""","revenue":{"amount":-3,"currency":null},"utm":{"source":"news","medium":7,"campaign":"spring"}""")),
            Batch(Ev("h", ""","attributes":{"url":"https://x.test/p?utm_source=mail&utm_campaign=black%20friday&utm_term=a+b#top"}""")),
            Batch(Ev("i", ""","utm":{"medium":null},"attributes":{"url":"https://x.test/?utm_medium=cpc"}""")),
            Batch("""{"messageId":"j","name":"purchase","timestamp":"2026-11-17T10:00:00+03:00","attributes":{"amount":120,"currency":"eur"}}"""),
            Batch("""{"messageId":"k","name":"purchase","timestamp":1795000000000,"attributes":{"amount":120}}"""),
            Batch("""{"messageId":"l","name":"push_opened","timestamp":1795000000000,"attributes":{"message_id":"msg-9"}}"""),
            Batch("""{"messageId":"m","name":"push_opened","timestamp":1795000000000,"attributes":{"nested":{"message_id":"x"}}}"""),
            Batch("""{"messageId":"n","name":"push_opened","timestamp":1795000000000,"attributes":{"message\u005fid":"escaped-name"}}"""),
            Batch(Ev("o"), ""","sentAt":"2026-11-18T08:00:00Z" """),
            Batch(Ev("p"), ""","sentAt":1795000030000,"other":[{"x":1}]"""),
            """{"events":[{"timestamp":1795000000000,"name":"late-id","messageId":"q"}],"installationId":"inst-2","sentAt":null}""",
            Batch(Ev("r", $$""","attributes":{{{string.Join(",", Enumerable.Range(0, 25).Select(i => $"\"a{i}\":{i}"))}}}""")),
            Batch(Ev("s", $$""","attributes":{"long":"{{new string('ş', 1024)}}","list":[{{string.Join(",", Enumerable.Range(0, 100).Select(i => $"\"{new string('x', 256)}\""))}}]}""")),
            Batch(Ev("t", ""","attributes":{"big":1e15,"small":-1E15,"z":0,"f":1.25e-300,"b":true,"n":null}""")),
            Batch(""),
            "  \r\n" + Batch(Ev("u")) + "\n\t ",
        ];
        foreach (var json in accepted)
            Compare(json).ShouldBeTrue($"the fast path refused: {json}");
    }

    [Fact]
    public void Bad_or_ambiguous_batches_go_to_the_slow_path()
    {
        var deep = string.Concat(Enumerable.Repeat("{\"a\":", 40)) + "1" + new string('}', 40);
        string[] refused =
        [
            Batch(Ev("a", $$""","attributes":{{{string.Join(",", Enumerable.Range(0, 26).Select(i => $"\"a{i}\":{i}"))}}}""")),
            Batch(Ev("b", $$""","attributes":{"long":"{{new string('ş', 1025)}}"}""")),
            Batch(Ev("c", ""","attributes":{"long":"\u00e7"}""").Replace("\\u00e7", string.Concat(Enumerable.Repeat("\\u00e7", 1025)))),
            Batch(Ev("d", ""","attributes":{"n":1e16}""")),
            Batch(Ev("e", ""","attributes":{"n":1e400}""")),
            Batch(Ev("f", ""","attributes":{"":1}""")),
            Batch(Ev("g", $$""","attributes":{"{{new string('k', 129)}}":1}""")),
            Batch(Ev("h", $$""","attributes":{"list":[{{string.Join(",", Enumerable.Range(0, 101).Select(i => "1"))}}]}""")),
            Batch(Ev("i", $$""","attributes":{"list":["{{new string('x', 257)}}"]}""")),
            Batch(Ev("j", ""","attributes":[1]""")),
            Batch(Ev("k", ""","attributes":{"deep":""" + deep + "}")),
            Batch(Ev("l", ""","revenue":{"currency":"USD"}""")),
            Batch(Ev("m", ""","revenue":{"amount":1,"currency":"US"}""")),
            Batch(Ev("n", ""","revenue":{"amount":1e16}""")),
            Batch(Ev("o", ""","revenue":5""")),
            Batch(Ev("p", ""","utm":null""")),
            Batch(Ev("q", ""","utm":{"source":"a","source":"b"}""")),
            Batch(Ev("r", ""","attributes":{"url":"a","url":"b"}""")),
            Batch(Ev("s", ""","attributes":{"x":1},"attributes":{"y":2}""")),
            Batch(Ev("t") + ",42"),
            Batch("""{"messageId":"u","name":"  ","timestamp":1795000000000}"""),
            Batch("""{"messageId":"v","name":"x","timestamp":0}"""),
            Batch("""{"messageId":"w","name":"x","timestamp":"yesterday"}"""),
            Batch("""{"messageId":"x","name":"x","timestamp":1}"""),
            Batch("""{"messageId":"y","name":"x","timestamp":9999999999999}"""),
            Batch("""{"name":"x","timestamp":1795000000000}"""),
            Batch("""{"messageId":"z","name":"purchase","timestamp":1795000000000,"attributes":{"amount":1,"currency":"dollars"}}"""),
            Batch("""{"messageId":"mm","name":"push_opened","timestamp":1795000000000,"attributes":{"message_id":"a","message_id":"b"}}"""),
            """{"events":[]}""",
            """{"installationId":null,"events":[]}""",
            """{"installationId":"i","events":{}}""",
            """{"installationId":"i","installationId":"j","events":[]}""",
            """{"installationId":"i","events":[]} {}""",
            """{"installationId":"i","events":[]""",
            """[1,2]""",
        ];
        foreach (var json in refused)
            Compare(json).ShouldBeFalse($"the fast path took: {json}");
    }
}
