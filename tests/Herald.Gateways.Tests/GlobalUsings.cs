global using Shouldly;
global using Xunit;
global using Herald.Sim.Local;
global using Herald.Sim.Providers.Smtp;
