namespace Herald.Sim;

internal static class SimProgram
{
    public static int Main(string[] args)
    {
        Console.WriteLine("herald-sim: see README");
        return args.Length == 0 ? 0 : 2;
    }
}
