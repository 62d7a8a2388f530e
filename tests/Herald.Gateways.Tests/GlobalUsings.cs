global using Shouldly;
global using Xunit;
global using Herald.Sim.Local;
