using Herald.Domain.Templates;

namespace Herald.Domain.Tests.Templates;

public class MessageTemplateTests
{
    private static Dictionary<string, object?> Ctx(params (string, object?)[] kv) => kv.ToDictionary(x => x.Item1, x => x.Item2);

    [Fact]
    public void Liquid_style_default_means_the_handlebars_helper()
    {
        var t = MessageTemplate.Compile("Hi {{ first_name | default: 'there' }}!");
        t.Render(Ctx()).ShouldBe("Hi there!");
        t.Render(Ctx(("first_name", "Şükrü"))).ShouldBe("Hi Şükrü!");
        t.RequiredPaths.ShouldBeEmpty();
    }

    [Fact]
    public void Push_text_is_never_html_escaped_and_email_html_always_is()
    {
        var ctx = Ctx(("name", "<Ayşe & \"Co\">"));
        MessageTemplate.Compile("{{name}}").Render(ctx).ShouldBe("<Ayşe & \"Co\">");
        MessageTemplate.Compile("<p>{{name}}</p>", htmlEscape: true).Render(ctx).ShouldBe("<p>&lt;Ayşe &amp; &quot;Co&quot;&gt;</p>");
    }

    [Fact]
    public void A_value_without_default_is_required_and_reported_missing()
    {
        var t = MessageTemplate.Compile("{{user.city}} / {{default nick \"x\"}} / {{#if vip}}VIP{{/if}}");
        t.RequiredPaths.ShouldBe(["user.city"]);
        t.FirstMissing(Ctx()).ShouldBe("user.city");
        t.FirstMissing(Ctx(("user", new Dictionary<string, object?> { ["city"] = "" }))).ShouldBe("user.city");
        t.FirstMissing(Ctx(("user", new Dictionary<string, object?> { ["city"] = "İzmir" }))).ShouldBeNull();
    }

    [Fact]
    public void A_per_user_deeplink_is_built_from_attributes()
    {
        var t = MessageTemplate.Compile("shop://product/{{urlencode last_sku}}?ref={{default campaign \"push\"}}");
        t.Render(Ctx(("last_sku", "A B/1"))).ShouldBe("shop://product/A%20B%2F1?ref=push");
    }

    [Theory]
    [InlineData("Hi {{first_name", 1)]
    [InlineData("line one\n{{#if vip}} never closed", 2)]
    [InlineData("{{nosuchhelper a b}}", 1)]
    [InlineData("{{> nopartial}}", 1)]
    public void Errors_are_reported_at_compile_time_with_a_line(string source, int line)
    {
        var e = Should.Throw<TemplateException>(() => MessageTemplate.Compile(source));
        e.Line.ShouldBe(line);
        e.Message.ShouldNotBeNullOrWhiteSpace();
    }
}
