using Herald.Gateways.Fcm;

namespace Herald.Gateways.Tests;

public sealed class FcmCredentialsTests
{
    private const string Key = """
        {"type":"service_account","project_id":"shop-app","private_key_id":"k1",
         "private_key":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
         "client_email":"fcm@shop-app.iam.gserviceaccount.com","token_uri":"https://oauth2.googleapis.com/token"}
        """;

    [Fact]
    public void Service_account_json_is_parsed()
    {
        var credentials = FcmCredentials.FromServiceAccountJson(Key);

        credentials.ProjectId.ShouldBe("shop-app");
        credentials.ClientEmail.ShouldBe("fcm@shop-app.iam.gserviceaccount.com");
        credentials.PrivateKeyPem.ShouldStartWith("-----BEGIN PRIVATE KEY-----");
        credentials.TokenUri.ShouldBe(new Uri("https://oauth2.googleapis.com/token"));
        credentials.PrivateKeyId.ShouldBe("k1");
    }

    [Fact]
    public void Missing_field_is_named_in_the_error()
    {
        var error = Should.Throw<ArgumentException>(() => FcmCredentials.FromServiceAccountJson("""{"type":"service_account","project_id":"p","private_key":"x"}"""));

        error.Message.ShouldContain("client_email");
    }

    [Fact]
    public void Printing_credentials_never_shows_the_private_key()
    {
        FcmCredentials.FromServiceAccountJson(Key).ToString().ShouldNotContain("PRIVATE KEY");
    }
}
