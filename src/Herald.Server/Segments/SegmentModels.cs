using System.Text.Json;
using Herald.Server.Analytics;

namespace Herald.Server.Segments;

public sealed record SegmentRequest(string? Name, JsonElement? Rules, bool Realtime = false);

public sealed record RulesRequest(JsonElement? Rules);

public sealed record SegmentView(long Id, string Name, JsonElement Rules, bool Realtime, long Size, bool Active,
    long CreatedAt, long UpdatedAt, long LastUsedAt, long? InactiveSince);

public sealed record ValidationResult(bool Valid, IReadOnlyList<RuleError> Errors);

public sealed record PreviewResult(long Size);

public sealed record MembersPage(IReadOnlyList<MemberView> Members, uint? Next);

/// <summary>A device entered or left a real-time segment.</summary>
public sealed record SegmentChange(long Id, long AppId, long SegmentId, uint DeviceOrdinal, bool Entered, long At);
