using System.CommandLine;
using Consumers.Worker.Cli;

var root = new RootCommand("consumers: a resilient worker runtime for long-running media jobs")
{
    RunCommand.Create(),
    ServeCommand.Create(),
    SubmitCommand.Create(),
    ShowCommand.Create(),
    ListCommand.Create(),
    WatchCommand.Create(),
    StuckCommand.Create(),
    RequeueCommand.Create(),
    CancelCommand.Create(),
    PauseCommands.Pause(),
    PauseCommands.Resume(),
    PauseCommands.List(),
    DeadLettersCommand.Create(),
    PruneCommand.Create(),
    CheckTimelineCommand.Create(),
    MigrateCommand.Create(),
};
root.Options.Add(SharedOptions.Set);

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors)
    {
        Console.Error.WriteLine("error: " + error.Message);
    }

    Console.Error.WriteLine("Try 'consumers --help'.");
    return ExitCodes.Usage;
}

// No forced exit on SIGTERM: the worker drains its jobs within its own shutdown timeout.
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
