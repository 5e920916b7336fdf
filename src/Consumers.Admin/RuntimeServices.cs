using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Admin;

/// <summary>
/// The runtime's services (job store, queries, control actions) as the admin server sees them: those of the worker
/// it runs in, or of <c>consumers serve</c>. The admin server has a container of its own for HTTP; this is its one
/// way to the runtime, so it uses the same control code as the CLI and never a copy.
/// </summary>
public sealed class RuntimeServices(IServiceProvider services)
{
    public T Get<T>() where T : notnull => services.GetRequiredService<T>();

    public AsyncServiceScope CreateScope() => services.CreateAsyncScope();
}
