namespace Herald.Server.Accounts;

/// <summary>Minimum strength: length, variety, and nothing derived from the account's email.</summary>
public static class PasswordRules
{
    public const int MinLength = 12;
    public const int MaxLength = 256;

    public static IReadOnlyList<string> Check(string? password, string email)
    {
        var errors = new List<string>();
        if (string.IsNullOrEmpty(password))
        {
            errors.Add("Enter a password.");
            return errors;
        }
        if (password.Length < MinLength) errors.Add($"Use at least {MinLength} characters (got {password.Length}).");
        if (password.Length > MaxLength) errors.Add($"Use at most {MaxLength} characters.");
        var classes = (password.Any(char.IsLower) ? 1 : 0) + (password.Any(char.IsUpper) ? 1 : 0)
            + (password.Any(char.IsDigit) ? 1 : 0) + (password.Any(c => !char.IsLetterOrDigit(c)) ? 1 : 0);
        if (classes < 3) errors.Add("Mix at least three of: lower-case letters, upper-case letters, digits, symbols.");
        if (password.Distinct().Count() < 5) errors.Add("Use at least 5 different characters.");
        var local = email.Split('@')[0];
        if (local.Length >= 3 && password.Contains(local, StringComparison.OrdinalIgnoreCase))
            errors.Add("Do not include your email name in the password.");
        return errors;
    }
}
