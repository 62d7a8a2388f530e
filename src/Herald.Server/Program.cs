using Herald.Server.Accounts;
using Herald.Server.Alerts;
using Herald.Server.Analytics;
using Herald.Server.Apps;
using Herald.Server.Automation;
using Herald.Server.Campaigns;
using Herald.Server.Catalog;
using Herald.Server.Delivery;
using Herald.Server.Exports;
using Herald.Server.Geofences;
using Herald.Server.Identity;
using Herald.Server.Infrastructure;
using Herald.Server.Ingest;
using Herald.Server.Panel;
using Herald.Server.Predictions;
using Herald.Server.Segments;
using Herald.Server.Storage;
using Herald.Server.WebSdk;
using Herald.Server.Widgets;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddSingleton(TimeProvider.System);
// First hosted service: migrations (and the demo app) are in place before any worker starts.
if (!Cli.IsCommand(args))
    builder.Services.AddHostedService<Bootstrap>();
builder.Services.AddOpenApi();
builder.AddProblemHandling();
builder.AddStorage();
builder.AddApps();
builder.AddIdentity();
builder.AddIngest();
builder.AddAnalytics();
builder.AddGeofences();
builder.AddPredictions();
builder.AddSegments();
builder.AddCatalog();
builder.AddCampaigns();
builder.AddAutomation();
builder.AddDelivery();
builder.AddAlerts();
builder.AddWidgets();
builder.AddExports();
builder.AddWebSdk();
builder.AddAccounts();
builder.AddPanel();
builder.Services.AddOptions<DemoOptions>().Bind(builder.Configuration.GetSection("Herald:Demo"));

var app = builder.Build();

if (Cli.IsCommand(args))
    return await Cli.RunAsync(app, args);

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseJsonBodyLimit();
app.UsePanel();
app.MapOpenApi("/openapi/{documentName}.json");
app.MapHealth();
app.MapApps();
app.MapIdentity();
app.MapIngest();
app.MapAnalytics();
app.MapSegments();
app.MapPredictions();
app.MapCatalog();
app.MapCampaigns();
app.MapAutomation();
app.MapDelivery();
app.MapAlerts();
app.MapWidgets();
app.MapExports();
app.MapGeofences();
app.MapWebSdk();
app.MapPanel();

await app.RunAsync();
return 0;

public partial class Program;
