using Herald.Server.Accounts;
using Herald.Server.Catalog;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>The catalog (R-MSG-3, R-APP-2): items a page at a time, one item's values as templates see them, and a CSV upload for marketers.</summary>
public sealed class CatalogModel(AccountService accounts, CatalogService catalog) : PanelPage(accounts)
{
    public const int PageSize = 50;
    public override string Section => "catalog";
    [BindProperty(SupportsGet = true)]
    public string? After { get; set; }
    public CatalogPage? Items { get; private set; }
    /// <summary>Why the app has no catalog (its category), when it has none.</summary>
    public string? Unavailable { get; private set; }

    public async Task OnGetAsync()
    {
        try
        {
            await catalog.RequireCatalogAppAsync(AppId, "category", HttpContext.RequestAborted);
            Items = await catalog.ListAsync(AppId, After, PageSize, HttpContext.RequestAborted);
        }
        catch (Infrastructure.ProblemException p) when (p.Status == StatusCodes.Status409Conflict)
        {
            Unavailable = "The catalog is for E-commerce and Media apps; change the app's category in Settings to use it.";
        }
    }

    [Needs(Permission.EditCampaigns)]
    public async Task<IActionResult> OnPostUploadAsync(IFormFile? file)
    {
        if (await TryAsync(async () =>
            {
                if (file is null || file.Length == 0) throw Infrastructure.ProblemException.BadRequest("Choose a CSV file to upload.", "file");
                if (file.Length > Identity.CsvUserImport.MaxBytes)
                    throw Infrastructure.ProblemException.TooLarge($"The file is {file.Length:N0} bytes; at most {Identity.CsvUserImport.MaxBytes:N0}.", "file", Identity.CsvUserImport.MaxBytes);
                using var buffer = new MemoryStream((int)file.Length);
                await file.CopyToAsync(buffer, HttpContext.RequestAborted);
                var n = await catalog.ImportCsvAsync(AppId, buffer.ToArray(), HttpContext.RequestAborted);
                await AuditAsync("catalog.upload", $"{file.FileName}: {n} items");
                Flash = $"{n:N0} items saved from {file.FileName}.";
            })) { }
        await OnGetAsync();
        return Page();
    }
}
