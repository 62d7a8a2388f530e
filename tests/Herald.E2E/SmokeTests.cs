namespace Herald.E2E;

[Collection(E2ECollection.Name)]
public sealed class SmokeTests(E2EHost host)
{
    [Fact]
    public async Task Chromium_reaches_herald_on_kestrel()
    {
        var page = await host.Browser.NewPageAsync();
        var response = await page.GotoAsync(new Uri(host.BaseAddress, "/health").ToString());
        response!.Status.ShouldBe(200);
        (await page.ContentAsync()).ShouldContain("Healthy");
        await page.CloseAsync();
    }
}
