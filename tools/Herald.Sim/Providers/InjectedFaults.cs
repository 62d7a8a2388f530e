using System.Collections.Concurrent;

namespace Herald.Sim.Providers;

/// <summary>Faults a loopback server answers for a given token, each for a number of requests (or for ever).</summary>
public sealed class InjectedFaults<TFault> where TFault : class
{
    private readonly ConcurrentDictionary<string, (TFault Fault, int Remaining)> _faults = new();

    public void Inject(string token, TFault fault, int times = int.MaxValue) => _faults[token] = (fault, times);

    /// <summary>The fault for this request, if any; counts it against the fault's remaining uses.</summary>
    public TFault? Take(string token)
    {
        if (_faults.IsEmpty || !_faults.TryGetValue(token, out var entry))
            return null;
        if (entry.Remaining != int.MaxValue)
        {
            if (entry.Remaining <= 1) _faults.TryRemove(token, out _);
            else _faults[token] = (entry.Fault, entry.Remaining - 1);
        }
        return entry.Fault;
    }
}
