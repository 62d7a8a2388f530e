using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Html;

namespace Herald.Server.Panel;

/// <summary>Charts drawn on the server as SVG (no script, no inline style: classes from panel.css).</summary>
public static class SvgCharts
{
    private static string N(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
    private static string E(string s) => WebUtility.HtmlEncode(s);
    public static string Count(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A round step giving about <paramref name="ticks"/> gridlines up to <paramref name="max"/>.</summary>
    public static long NiceStep(long max, int ticks = 5)
    {
        if (max <= ticks) return 1;
        var raw = (double)max / ticks;
        var mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var f = raw / mag;
        var nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
        return (long)(nice * mag);
    }

    /// <summary>Counts per date as a line (or bars) with a labelled count axis and date axis.</summary>
    public static IHtmlContent Trend(IReadOnlyList<(string Label, long Value)> points, string title, bool bars, string id)
    {
        const int W = 900, H = 340, L = 64, R = 20, T = 36, B = 58;
        var pw = W - L - R;
        var ph = H - T - B;
        var max = Math.Max(1, points.Count == 0 ? 1 : points.Max(p => p.Value));
        var step = NiceStep(max);
        var top = (long)Math.Ceiling((double)max / step) * step;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{E(title)}\">");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"title\" x=\"{L}\" y=\"22\">{E(title)}</text>");
        for (long v = 0; v <= top; v += step)
        {
            var y = T + ph - ph * (double)v / top;
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{L}\" x2=\"{W - R}\" y1=\"{N(y)}\" y2=\"{N(y)}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L - 8}\" y=\"{N(y + 4)}\" text-anchor=\"end\">{Count(v)}</text>");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{L}\" x2=\"{L}\" y1=\"{T}\" y2=\"{T + ph}\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{L}\" x2=\"{W - R}\" y1=\"{T + ph}\" y2=\"{T + ph}\"/>");
        var n = Math.Max(1, points.Count);
        var slot = (double)pw / n;
        double X(int i) => L + slot * (i + 0.5);
        double Y(long v) => T + ph - ph * (double)v / top;
        var every = Math.Max(1, (int)Math.Ceiling(n / 10.0));
        for (var i = 0; i < points.Count; i++)
            if (i % every == 0 || i == points.Count - 1 && points.Count <= 10)
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{N(X(i))}\" y=\"{T + ph + 18}\" text-anchor=\"middle\">{E(points[i].Label)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L + pw / 2}\" y=\"{H - 10}\" text-anchor=\"middle\">date</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{T + ph / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {T + ph / 2})\">count</text>");
        if (bars)
        {
            var bw = Math.Max(2, slot * 0.7);
            for (var i = 0; i < points.Count; i++)
            {
                var y = Y(points[i].Value);
                sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"bar\" x=\"{N(X(i) - bw / 2)}\" y=\"{N(y)}\" width=\"{N(bw)}\" height=\"{N(T + ph - y)}\"><title>{E(points[i].Label)}: {Count(points[i].Value)}</title></rect>");
            }
        }
        else if (points.Count > 0)
        {
            var path = string.Join(" ", points.Select((p, i) => $"{N(X(i))},{N(Y(p.Value))}"));
            sb.Append(CultureInfo.InvariantCulture, $"<polygon class=\"area\" points=\"{N(X(0))},{T + ph} {path} {N(X(points.Count - 1))},{T + ph}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<polyline class=\"line\" points=\"{path}\"/>");
            for (var i = 0; i < points.Count; i++)
                sb.Append(CultureInfo.InvariantCulture, $"<circle class=\"dot\" cx=\"{N(X(i))}\" cy=\"{N(Y(points[i].Value))}\" r=\"3.5\"><title>{E(points[i].Label)}: {Count(points[i].Value)}</title></circle>");
        }
        sb.Append("</svg>");
        return new HtmlString(sb.ToString());
    }

    /// <summary>Funnel steps as horizontal bars: reached (dark) and dropped (light), with count and conversion from the first step.</summary>
    public static IHtmlContent Funnel(IReadOnlyList<(string Step, long Count, double FromStart, double FromPrevious)> steps, string id)
    {
        const int W = 900, L = 190, R = 210, Row = 46, T = 16;
        var H = T + steps.Count * Row + 12;
        var pw = W - L - R;
        var first = Math.Max(1, steps.Count == 0 ? 1 : steps[0].Count);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Funnel\">");
        for (var i = 0; i < steps.Count; i++)
        {
            var s = steps[i];
            var y = T + i * Row;
            var w = pw * (double)s.Count / first;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L - 10}\" y=\"{y + 24}\" text-anchor=\"end\">{i + 1}. {E(Trim(s.Step, 24))}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"bar drop\" x=\"{L}\" y=\"{y + 6}\" width=\"{pw}\" height=\"28\" rx=\"4\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"bar\" x=\"{L}\" y=\"{y + 6}\" width=\"{N(Math.Max(w, s.Count > 0 ? 2 : 0))}\" height=\"28\" rx=\"4\"><title>{E(s.Step)}: {Count(s.Count)}</title></rect>");
            var prev = i == 0 ? "" : $" · {Pct(s.FromPrevious)} of previous";
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"value\" x=\"{L + pw + 10}\" y=\"{y + 19}\">{Count(s.Count)} ({Pct(s.FromStart)})</text>");
            if (i > 0) sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L + pw + 10}\" y=\"{y + 35}\">{E(prev.TrimStart(' ', '·'))}</text>");
        }
        sb.Append("</svg>");
        return new HtmlString(sb.ToString());
    }

    public static string Pct(double rate) => (rate * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    /// <summary>Heat class h0–h7 for a retention rate.</summary>
    public static string Heat(double rate) => "h" + Math.Clamp((int)Math.Ceiling(rate * 7), 0, 7).ToString(CultureInfo.InvariantCulture);

    private static string Trim(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
}
