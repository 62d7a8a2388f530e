global using Herald.E2E.Support;
global using Herald.Sim.Local;
global using Shouldly;
global using Xunit;
