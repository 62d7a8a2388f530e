namespace Herald.Server.Campaigns;

/// <summary>The states of a ledger row (R-DLV-1).</summary>
public static class DeliveryStates
{
    public const string Queued = "queued";
    /// <summary>Waiting for an A/B test's winner; never claimed by the dispatcher.</summary>
    public const string Held = "held";
    public const string Sending = "sending";
    public const string Sent = "sent";
    public const string Failed = "failed";
    public const string Skipped = "skipped";
    public const string Cancelled = "cancelled";
    public const string Delivered = "delivered";
    public const string Opened = "opened";
    public const string Dismissed = "dismissed";
    public const string Recalled = "recalled";
}
