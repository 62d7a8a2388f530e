namespace Herald.Domain;

internal static class AssemblyMarker;
