using Consumers.Contracts;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

// Publishes one JobRequested per --job argument and exits. Nothing but the contracts tells MassTransit where
// a JobRequested goes: the exchange name is on the type.
//
// usage: Consumers.SampleProducer --host H --port P --vhost V --user U --password W
//        --job <jobId>,<stage>,<source>,<outputKey> [--job ...]
var options = ParseArguments(args);
var services = new ServiceCollection();
services.AddMassTransit(x =>
{
    x.DisableUsageTelemetry();
    x.UsingRabbitMq((_, cfg) => cfg.Host(options["host"], ushort.Parse(options["port"]), options["vhost"], h =>
    {
        h.Username(options["user"]);
        h.Password(options["password"]);
        h.PublisherConfirmation = true;
    }));
});

await using var provider = services.BuildServiceProvider();
var bus = provider.GetRequiredService<IBusControl>();
await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
try
{
    foreach (var job in Jobs(args))
    {
        await bus.Publish(job);
        Console.WriteLine($"published {job.JobId} ({job.Stage})");
    }
}
finally
{
    await bus.StopAsync();
}

return 0;

static Dictionary<string, string> ParseArguments(string[] args)
{
    var options = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["host"] = "127.0.0.1",
        ["port"] = "56729",
        ["vhost"] = "/",
        ["user"] = "consumers",
        ["password"] = "consumers",
    };
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        if (args[i] != "--job")
        {
            options[args[i].TrimStart('-')] = args[i + 1];
        }
    }

    return options;
}

static IEnumerable<JobRequested> Jobs(string[] args)
{
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        if (args[i] == "--job" && args[i + 1].Split(',') is [var id, var stage, var source, var outputKey])
        {
            yield return new JobRequested { JobId = Guid.Parse(id), Stage = stage, Source = source, OutputKey = outputKey };
        }
    }
}
