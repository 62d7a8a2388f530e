global using Shouldly;
global using Xunit;
global using Herald.Tests.Support;
global using Microsoft.Extensions.DependencyInjection;
global using Herald.Sim.Local;
