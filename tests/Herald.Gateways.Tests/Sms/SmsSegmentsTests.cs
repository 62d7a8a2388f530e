using Herald.Gateways.Sms;

namespace Herald.Gateways.Tests.Sms;

public class SmsSegmentsTests
{
    private static string A(int n) => new('a', n);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(160, 1)]
    [InlineData(161, 2)]
    [InlineData(306, 2)]
    [InlineData(307, 3)]
    [InlineData(459, 3)]
    [InlineData(460, 4)]
    public void GSM_7_text_fits_160_septets_in_one_SMS_and_153_per_part_after(int length, int segments)
    {
        var info = SmsSegments.Analyze(A(length));

        info.Encoding.ShouldBe(SmsEncoding.Gsm7);
        info.Units.ShouldBe(length);
        info.Segments.ShouldBe(segments);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(70, 1)]
    [InlineData(71, 2)]
    [InlineData(134, 2)]
    [InlineData(135, 3)]
    public void UCS_2_text_fits_70_units_in_one_SMS_and_67_per_part_after(int length, int segments)
    {
        var info = SmsSegments.Analyze(new string('ş', length));

        info.Encoding.ShouldBe(SmsEncoding.Ucs2);
        info.Units.ShouldBe(length);
        info.Segments.ShouldBe(segments);
    }

    [Fact]
    public void Empty_text_costs_no_segment() => SmsSegments.Analyze("").Segments.ShouldBe(0);

    [Theory]
    [InlineData("€")]
    [InlineData("{")]
    [InlineData("}")]
    [InlineData("[")]
    [InlineData("]")]
    [InlineData("\\")]
    [InlineData("~")]
    [InlineData("|")]
    [InlineData("^")]
    [InlineData("\f")]
    public void Extension_table_characters_stay_GSM_7_and_cost_two_septets(string c)
    {
        var info = SmsSegments.Analyze(c);

        info.Encoding.ShouldBe(SmsEncoding.Gsm7);
        info.Units.ShouldBe(2);
    }

    [Fact]
    public void An_extension_character_that_crosses_160_septets_makes_a_second_segment()
    {
        SmsSegments.Analyze(A(158) + "€").ShouldBe(new SmsSegmentInfo(SmsEncoding.Gsm7, 160, 1));
        SmsSegments.Analyze(A(159) + "€").ShouldBe(new SmsSegmentInfo(SmsEncoding.Gsm7, 161, 2));
        SmsSegments.Analyze(new string('€', 80)).ShouldBe(new SmsSegmentInfo(SmsEncoding.Gsm7, 160, 1));
    }

    [Fact]
    public void An_escape_pair_is_never_split_across_parts()
    {
        // 306 septets would fill exactly two parts, but the pair cannot straddle the first boundary.
        SmsSegments.Analyze(A(152) + "{" + A(152)).ShouldBe(new SmsSegmentInfo(SmsEncoding.Gsm7, 306, 3));
        SmsSegments.Analyze(A(151) + "{" + A(153)).ShouldBe(new SmsSegmentInfo(SmsEncoding.Gsm7, 306, 2));
    }

    [Fact]
    public void A_surrogate_pair_counts_two_units_and_is_never_split_across_parts()
    {
        SmsSegments.Analyze(A(68) + "😀").ShouldBe(new SmsSegmentInfo(SmsEncoding.Ucs2, 70, 1));
        SmsSegments.Analyze(A(69) + "😀").ShouldBe(new SmsSegmentInfo(SmsEncoding.Ucs2, 71, 2));
        SmsSegments.Analyze(A(66) + "😀" + A(66)).ShouldBe(new SmsSegmentInfo(SmsEncoding.Ucs2, 134, 3));
        SmsSegments.Analyze(A(65) + "😀" + A(67)).ShouldBe(new SmsSegmentInfo(SmsEncoding.Ucs2, 134, 2));
    }

    [Theory]
    [InlineData("ş")]
    [InlineData("Ş")]
    [InlineData("ğ")]
    [InlineData("Ğ")]
    [InlineData("ı")]
    [InlineData("İ")]
    [InlineData("ç")]
    public void Turkish_letters_outside_the_GSM_alphabet_force_UCS_2(string letter) =>
        SmsSegments.Analyze("Merhaba " + letter).Encoding.ShouldBe(SmsEncoding.Ucs2);

    [Fact]
    public void Capital_C_cedilla_and_the_umlauts_are_in_the_GSM_basic_set()
    {
        var info = SmsSegments.Analyze("Çok güzel ÖÜöüÄäÑñ åÅ ÉéèàùìòØøÆæß ¡¿§ £$¥ @_ ΔΦΓΛΩΠΨΣΘΞ");

        info.Encoding.ShouldBe(SmsEncoding.Gsm7);
    }

    [Fact]
    public void A_typical_Turkish_campaign_text_costs_UCS_2_segments()
    {
        var text = "Sevgili müşterimiz, hafta sonuna özel tüm ürünlerde %30 indirim sizi bekliyor! Kaçırmayın: shop.example/i";

        var info = SmsSegments.Analyze(text);

        info.Encoding.ShouldBe(SmsEncoding.Ucs2);
        info.Units.ShouldBe(text.Length);
        info.Segments.ShouldBe(2);
    }
}
