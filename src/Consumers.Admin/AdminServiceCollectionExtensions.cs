using Consumers.Runtime.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Admin;

public static class AdminServiceCollectionExtensions
{
    /// <summary>Registers the admin settings (checked at start like every other section) in the runtime's container.</summary>
    public static IServiceCollection AddConsumersAdminSettings(this IServiceCollection services, IConfiguration configuration) =>
        services.AddValidatedSettings<AdminOptions>(configuration, AdminOptions.Section);

    /// <summary>
    /// Runs the admin server inside a worker host for the host's lifetime. Only when
    /// <c>Consumers:Admin:Enabled</c> is true; the settings are checked either way.
    /// </summary>
    public static IServiceCollection AddConsumersAdminServer(this IServiceCollection services, IConfiguration configuration)
    {
        // Read here, not from options, so an off switch leaves the rest (credentials) unchecked.
        if (!configuration.GetSection(AdminOptions.Section).GetValue<bool>(nameof(AdminOptions.Enabled)))
        {
            return services;
        }

        services.AddConsumersAdminSettings(configuration);
        services.AddHostedService<AdminHostedService>();
        return services;
    }
}
