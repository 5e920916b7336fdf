using System.Globalization;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Quartz;

namespace Consumers.Runtime.Recovery;

public static class RecoveryServiceCollectionExtensions
{
    /// <summary>
    /// The sweep as a Quartz job on a clustered persistent store in the jobs database: every worker runs a
    /// scheduler, the cluster hands each fire to one of them, and a dead instance's work moves to another after
    /// the check-in misfire threshold. Missed fires are dropped, not run back to back.
    /// </summary>
    public static IServiceCollection AddRecoverySweep(this IServiceCollection services, IConfiguration configuration)
    {
        // The instances the services are given (AddConsumersCore bound them), not a second binding of the same sections.
        var recovery = services.AddSettingsBoundNow<RecoveryOptions>(configuration, RecoveryOptions.Section).Checked(RecoveryOptions.Section);
        var retention = services.AddSettingsBoundNow<Control.RetentionOptions>(configuration, Control.RetentionOptions.Section)
            .Checked(Control.RetentionOptions.Section);
        if (!recovery.Enabled)
        {
            return services;
        }

        var connectionString = QuartzConnectionString(
            configuration.ReadValidatedSettings<DatabaseOptions>(DatabaseOptions.Section).ConnectionString,
            recovery);
        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(o =>
            {
                o.InstanceName = "consumers";
                o.GenerateInstanceId = true;
            });
            // The sweep disallows concurrent execution, so every trigger round needs Quartz's row lock anyway;
            // without this Quartz first tries without it and throws (and catches) an exception a few times a second.
            q.ConfigureOptions<AdoJobStoreOptions>(o =>
            {
                o.AcquireTriggersWithinLock = true;
                // A scheduler blocked on QRTZ_LOCKS behind a frozen peer fails and retries instead of waiting for good
                // (the frozen peer's session is ended by idle_in_transaction_session_timeout meanwhile), and says so.
                o.CommandTimeout = recovery.ClusterLockTimeout * 2;
                o.LockWaitWarningThreshold = recovery.ClusterLockTimeout;
                o.DbRetryInterval = recovery.ClusterCheckinInterval;
            });
            q.UsePersistentStore(store =>
            {
                store.UsePostgres(connectionString);
                store.UseClustering(c =>
                {
                    c.CheckinInterval = recovery.ClusterCheckinInterval;
                    c.CheckinMisfireThreshold = recovery.ClusterCheckinMisfireThreshold;
                });
                store.UseSystemTextJsonSerializer();
                store.ProvisionSchema();
            });
            q.AddJob<RecoverySweepJob>(j => j.WithIdentity(RecoverySweepJob.Key).StoreDurably());
            q.AddTrigger(t => t
                .ForJob(RecoverySweepJob.Key)
                .WithIdentity("recovery-sweep-trigger", "consumers")
                .StartNow()
                .WithSimpleSchedule(s => s
                    .WithInterval(recovery.SweepInterval)
                    .RepeatForever()
                    .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount)));
            Control.ControlServiceCollectionExtensions.AddRetentionJob(q, retention);
        });
        services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        return services;
    }

    /// <summary>
    /// Quartz's own connections, with the server ending any session left idle inside a transaction (a frozen or
    /// cut-off scheduler holding QRTZ_LOCKS) after <see cref="RecoveryOptions.ClusterLockTimeout"/>, and any statement
    /// after twice that. Its application name tells these sessions apart in <c>pg_stat_activity</c>.
    /// </summary>
    public static string QuartzConnectionString(string connectionString, RecoveryOptions recovery)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var idle = (long)recovery.ClusterLockTimeout.TotalMilliseconds;
        var settings = string.Create(CultureInfo.InvariantCulture,
            $"-c idle_in_transaction_session_timeout={idle} -c statement_timeout={idle * 2}");
        builder.Options = string.IsNullOrWhiteSpace(builder.Options) ? settings : builder.Options + " " + settings;
        builder.ApplicationName = (builder.ApplicationName ?? "consumers") + "-quartz";
        return builder.ConnectionString;
    }
}
