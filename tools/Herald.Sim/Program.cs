Console.WriteLine("herald-sim: see README");
