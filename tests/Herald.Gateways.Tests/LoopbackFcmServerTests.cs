using Google.Apis.Auth.OAuth2;
using Google.Apis.Auth.OAuth2.Responses;
using Google.Apis.Http;
using Herald.Gateways.Http;
using Herald.Sim.Providers;

namespace Herald.Gateways.Tests;

/// <summary>The loopback server must judge assertions like Google does, or the FCM tests prove little.</summary>
public sealed class LoopbackFcmServerTests
{
    [Fact]
    public async Task Token_endpoint_accepts_the_assertion_Googles_own_library_makes()
    {
        await using var server = await LoopbackFcmServer.StartAsync();
        using var handler = ProviderHttp.CreateHandler(new ProviderHttpOptions { TrustedCertificate = server.Certificate });
        var initializer = new ServiceAccountCredential.Initializer(server.ClientEmail, server.TokenUri.AbsoluteUri)
        {
            Scopes = ["https://www.googleapis.com/auth/firebase.messaging"],
            HttpClientFactory = new HttpClientFromMessageHandlerFactory(_ => new HttpClientFromMessageHandlerFactory.ConfiguredHttpMessageHandler(handler, false, false)),
        };
        var pem = System.Text.Json.JsonDocument.Parse(server.ServiceAccountJson).RootElement.GetProperty("private_key").GetString()!;
        var credential = new ServiceAccountCredential(initializer.FromPrivateKey(pem));

        var token = await credential.GetAccessTokenForRequestAsync(cancellationToken: TestContext.Current.CancellationToken);

        token.ShouldStartWith("ya29.loopback-");
        server.TokenRequests.ShouldBe(1);
    }

    [Fact]
    public async Task Token_endpoint_refuses_an_assertion_signed_with_another_key()
    {
        await using var server = await LoopbackFcmServer.StartAsync();
        using var otherKey = System.Security.Cryptography.RSA.Create(2048);
        using var handler = ProviderHttp.CreateHandler(new ProviderHttpOptions { TrustedCertificate = server.Certificate });
        var initializer = new ServiceAccountCredential.Initializer(server.ClientEmail, server.TokenUri.AbsoluteUri)
        {
            Scopes = ["https://www.googleapis.com/auth/firebase.messaging"],
            HttpClientFactory = new HttpClientFromMessageHandlerFactory(_ => new HttpClientFromMessageHandlerFactory.ConfiguredHttpMessageHandler(handler, false, false)),
        };
        var credential = new ServiceAccountCredential(initializer.FromPrivateKey(otherKey.ExportPkcs8PrivateKeyPem()));

        var error = await Should.ThrowAsync<TokenResponseException>(() => credential.GetAccessTokenForRequestAsync(cancellationToken: TestContext.Current.CancellationToken));

        error.Error.Error.ShouldBe("invalid_grant");
    }
}
