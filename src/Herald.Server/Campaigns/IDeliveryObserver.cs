using Herald.Gateways;

namespace Herald.Server.Campaigns;

/// <summary>
/// One ledger row's outcome as the dispatcher recorded it. Provider is fcm | apns | webpush | smtp |
/// sms, empty when nothing was sent (stopped, skipped); Kind is the provider's answer, null when no
/// request was made.
/// </summary>
public sealed record DeliveryRecord(long AppId, long CampaignId, int Recipient, int? DeviceOrdinal, int? UserOrdinal,
    string Provider, string State, string? Reason, OutcomeKind? Kind);

/// <summary>
/// Told about every chunk of outcomes after it is committed to the ledger (so an observer never sees
/// an outcome that could still be lost). Observers run on the dispatch lane: keep them quick, and
/// never throw — a failing observer is logged and the lane goes on.
/// </summary>
public interface IDeliveryObserver
{
    Task OnRecordedAsync(IReadOnlyList<DeliveryRecord> records, CancellationToken ct);
}
