using Herald.Server.Campaigns;

namespace Herald.Tests;

public sealed class LedgerMessageIdTests
{
    [Fact]
    public void A_formatted_id_parses_back_to_the_row_key()
    {
        var id = LedgerMessageId.Format(9_000_000_001, 123_456);
        id.ShouldBe("9000000001-123456");
        LedgerMessageId.TryParse(id, out var campaign, out var recipient).ShouldBeTrue();
        (campaign, recipient).ShouldBe((9_000_000_001L, 123_456));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("test-0190f3a2")]
    [InlineData("12-")]
    [InlineData("-5")]
    [InlineData("1-2-3")]
    [InlineData("1 -2")]
    [InlineData("+1-2")]
    [InlineData("1-99999999999")]
    public void Ids_that_are_not_ledger_ids_find_no_row(string? id) =>
        LedgerMessageId.TryParse(id, out _, out _).ShouldBeFalse();
}
