using System.Text.Json;
using Herald.Gateways.Email;

namespace Herald.Gateways.Tests.Email;

public class SesNotificationParserTests
{
    private const string PermanentBounce = """
        {"notificationType":"Bounce",
         "bounce":{"bounceType":"Permanent","bounceSubType":"General",
           "bouncedRecipients":[{"emailAddress":"gone@example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"},
                                {"emailAddress":"\"Ayşe\" <Ayse@Example.com.tr>"}],
           "timestamp":"2030-01-01T00:00:00.000Z","feedbackId":"0100-abc"},
         "mail":{"timestamp":"2030-01-01T00:00:00.000Z","source":"kampanya@herald.example","messageId":"0100-ses-1",
           "destination":["gone@example.com","Ayse@Example.com.tr"],
           "headers":[{"name":"From","value":"kampanya@herald.example"},{"name":"X-Herald-Message-Id","value":"m-42"}]}}
        """;

    [Fact]
    public void A_permanent_bounce_suppresses_every_bounced_recipient()
    {
        var n = SesNotificationParser.Parse(PermanentBounce);

        n.Type.ShouldBe(SesNotificationType.Bounce);
        n.BounceType.ShouldBe("Permanent");
        n.BounceSubType.ShouldBe("General");
        n.Suppress.ShouldBe(["gone@example.com", "Ayse@Example.com.tr"]);
        n.SesMessageId.ShouldBe("0100-ses-1");
        n.HeraldMessageId.ShouldBe("m-42");
    }

    [Theory]
    [InlineData("Transient")]
    [InlineData("Undetermined")]
    public void Transient_and_undetermined_bounces_suppress_nobody(string bounceType)
    {
        var n = SesNotificationParser.Parse(PermanentBounce.Replace("\"Permanent\"", $"\"{bounceType}\""));

        n.Type.ShouldBe(SesNotificationType.Bounce);
        n.Recipients.Count.ShouldBe(2);
        n.Suppress.ShouldBeEmpty();
    }

    [Fact]
    public void A_complaint_suppresses_the_complaining_recipients()
    {
        var n = SesNotificationParser.Parse("""
            {"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"angry@example.com"}],
             "complaintFeedbackType":"abuse","timestamp":"2030-01-01T00:00:00Z","feedbackId":"f"},
             "mail":{"messageId":"ses-2"}}
            """);

        n.Type.ShouldBe(SesNotificationType.Complaint);
        n.Suppress.ShouldBe(["angry@example.com"]);
        n.SesMessageId.ShouldBe("ses-2");
    }

    [Fact]
    public void A_delivery_suppresses_nobody_and_lists_the_recipients()
    {
        var n = SesNotificationParser.Parse("""
            {"notificationType":"Delivery","delivery":{"recipients":["ok@example.com"],"smtpResponse":"250 ok"},"mail":{"messageId":"ses-3"}}
            """);

        n.Type.ShouldBe(SesNotificationType.Delivery);
        n.Recipients.ShouldBe(["ok@example.com"]);
        n.Suppress.ShouldBeEmpty();
    }

    [Fact]
    public void The_SNS_envelope_is_unwrapped_from_its_Message_string()
    {
        var envelope = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["Type"] = "Notification",
            ["MessageId"] = "sns-1",
            ["TopicArn"] = "arn:aws:sns:eu-west-1:123456789012:ses-bounces",
            ["Message"] = PermanentBounce,
            ["Timestamp"] = "2030-01-01T00:00:00.000Z",
        });

        var n = SesNotificationParser.Parse(envelope);

        n.Type.ShouldBe(SesNotificationType.Bounce);
        n.Suppress.ShouldContain("gone@example.com");
    }

    [Fact]
    public void An_SNS_subscription_confirmation_carries_the_URL_to_confirm()
    {
        var n = SesNotificationParser.Parse("""
            {"Type":"SubscriptionConfirmation","Token":"t","SubscribeURL":"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"}
            """);

        n.Type.ShouldBe(SesNotificationType.SubscriptionConfirmation);
        n.SubscribeUrl.ShouldNotBeNull().ShouldStartWith("https://sns.");
        n.Suppress.ShouldBeEmpty();
    }

    [Fact]
    public void SES_event_publishing_eventType_is_read_like_notificationType()
    {
        var n = SesNotificationParser.Parse(PermanentBounce.Replace("\"notificationType\"", "\"eventType\""));

        n.Type.ShouldBe(SesNotificationType.Bounce);
        n.Suppress.Count.ShouldBe(2);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{\"hello\":1}")]
    [InlineData("{\"notificationType\":\"Bounce\"}")]
    public void Anything_else_is_a_format_error(string body) =>
        Should.Throw<FormatException>(() => SesNotificationParser.Parse(body));
}
