using System.Buffers;

namespace Herald.Gateways.Sms;

public enum SmsEncoding { Gsm7, Ucs2 }

/// <summary>
/// How a text travels: its encoding, its length in that encoding's units (GSM-7 septets, extension
/// characters counting 2, or UTF-16 code units for UCS-2), and how many SMS it costs.
/// </summary>
public sealed record SmsSegmentInfo(SmsEncoding Encoding, int Units, int Segments);

/// <summary>
/// GSM 03.38 / 3GPP TS 23.038 default alphabet detection and segment counting. A single SMS holds
/// 160 septets or 70 UCS-2 units; a concatenated one loses 6 bytes to the user data header, leaving
/// 153 septets or 67 units per part. An escape pair (extension character) and a surrogate pair are
/// never split across parts, as handsets would show garbage.
/// </summary>
public static class SmsSegments
{
    public const int Gsm7Single = 160;
    public const int Gsm7Part = 153;
    public const int Ucs2Single = 70;
    public const int Ucs2Part = 67;

    // The basic table in code order 0x00–0x7F (0x1B, the escape to the extension table, left out).
    // 0x09 is Ç (capital C cedilla) per the Unicode mapping of GSM 03.38; small ç is not in the alphabet.
    private const string Basic =
        "@£$¥èéùìòÇ\nØø\rÅå" +
        "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ" +
        " !\"#¤%&'()*+,-./" +
        "0123456789:;<=>?" +
        "¡ABCDEFGHIJKLMNO" +
        "PQRSTUVWXYZÄÖÑÜ§" +
        "¿abcdefghijklmno" +
        "pqrstuvwxyzäöñüà";

    // Reached through the escape code, so each costs two septets.
    private const string Extension = "\f^{}\\[~]|€";

    private static readonly SearchValues<char> s_basic = SearchValues.Create(Basic);
    private static readonly SearchValues<char> s_extension = SearchValues.Create(Extension);
    private static readonly SearchValues<char> s_gsm = SearchValues.Create(Basic + Extension);

    public static bool IsGsm7(string text) => !text.AsSpan().ContainsAnyExcept(s_gsm);

    public static SmsSegmentInfo Analyze(string text)
    {
        if (IsGsm7(text))
        {
            int septets = 0;
            foreach (char c in text) septets += s_extension.Contains(c) ? 2 : 1;
            if (septets <= Gsm7Single) return new(SmsEncoding.Gsm7, septets, septets == 0 ? 0 : 1);
            return new(SmsEncoding.Gsm7, septets, CountParts(text, Gsm7Part, c => s_basic.Contains(c) ? 1 : 2, surrogates: false));
        }

        if (text.Length <= Ucs2Single) return new(SmsEncoding.Ucs2, text.Length, 1);
        return new(SmsEncoding.Ucs2, text.Length, CountParts(text, Ucs2Part, _ => 1, surrogates: true));
    }

    /// <summary>Greedy fill, moving an indivisible pair to the next part when it does not fit.</summary>
    private static int CountParts(string text, int capacity, Func<char, int> width, bool surrogates)
    {
        int parts = 1, used = 0;
        for (int i = 0; i < text.Length; i++)
        {
            int w = width(text[i]);
            if (surrogates && char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                w = 2;
                i++;
            }
            if (used + w > capacity)
            {
                parts++;
                used = 0;
            }
            used += w;
        }
        return parts;
    }
}
