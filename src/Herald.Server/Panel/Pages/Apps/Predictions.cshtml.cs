using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using Herald.Server.Accounts;
using Herald.Server.Predictions;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Server.Panel.Pages.Apps;

/// <summary>Predictive models (R-SEG-5): how well each ranks people it never saw, what drives it, and a button to train it now.</summary>
public sealed class PredictionsModel(AccountService accounts, PredictionService predictions) : PanelPage(accounts)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    public override string Section => "predictions";
    public IReadOnlyList<PredictionView> Models { get; private set; } = [];

    public async Task OnGetAsync() => Models = await predictions.ListAsync(AppId, HttpContext.RequestAborted);

    [Needs(Permission.EditAudience)]
    public async Task<IActionResult> OnPostTrainAsync(string? model)
    {
        if (await TryAsync(async () =>
            {
                var v = await predictions.TrainNowAsync(AppId, model ?? "", HttpContext.RequestAborted);
                Flash = $"The {v.Model} model is trained: AUC {(v.Auc is { } a ? a.ToString("0.00", Inv) : "n/a")} on {v.HeldOutRows} held-out people; {v.ScoredDevices:N0} devices scored.";
            }))
            await AuditAsync("prediction.train", model);
        await OnGetAsync();
        return Page();
    }

    public static string Title(string model) => model switch
    {
        PredictionKinds.Churn => "Likely to churn",
        PredictionKinds.Purchase => "Likely to purchase",
        _ => "Likely to opt out",
    };

    /// <summary>The weights as horizontal bars around zero: right raises the score, left lowers it.</summary>
    public static string WeightsSvg(PredictionView v)
    {
        if (v.Weights is not { Count: > 0 } w) return "";
        const double Width = 330, Row = 20, Label = 105, Mid = Label + (Width - Label) / 2;
        var max = Math.Max(1e-9, w.Values.Max(Math.Abs));
        var svg = new StringBuilder();
        svg.Append(Inv, $"<svg class=\"chart weights\" viewBox=\"0 0 {Width} {w.Count * Row + 8}\" role=\"img\" aria-label=\"What raises and lowers the {v.Model} score\">");
        svg.Append(Inv, $"<line class=\"axis\" x1=\"{Mid}\" y1=\"0\" x2=\"{Mid}\" y2=\"{w.Count * Row + 8}\"/>");
        var i = 0;
        foreach (var (name, weight) in w.OrderByDescending(x => Math.Abs(x.Value)))
        {
            var y = 4 + i++ * Row;
            var len = Math.Abs(weight) / max * ((Width - Label) / 2 - 6);
            var x = weight >= 0 ? Mid : Mid - len;
            svg.Append(Inv, $"<text x=\"4\" y=\"{y + 15}\" font-size=\"11\">{HtmlEncoder.Default.Encode(name.Replace('_', ' '))}</text>");
            svg.Append(Inv, $"<rect x=\"{x:0.#}\" y=\"{y + 3}\" width=\"{Math.Max(1, len):0.#}\" height=\"14\" fill=\"{(weight >= 0 ? "#d93025" : "#188038")}\"><title>{weight.ToString("0.###", Inv)}</title></rect>");
        }
        svg.Append("</svg>");
        return svg.ToString();
    }
}
