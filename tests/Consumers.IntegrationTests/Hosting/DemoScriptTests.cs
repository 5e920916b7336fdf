using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Consumers.IntegrationTests.Infrastructure;
using Npgsql;

namespace Consumers.IntegrationTests.Hosting;

/// <summary>
/// scripts/demo.sh stops what it started when it exits early: interrupted once its workers and dashboard run, it leaves
/// no process behind and frees its ports. It runs on a database, virtual host, folder and ports of its own.
/// </summary>
public sealed class DemoScriptTests
{
    [Fact]
    public async Task An_interrupted_demo_stops_its_workers_and_dashboard()
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var database = "consumers_demo_t" + tag;
        var vhost = "demo-t" + tag;
        var folder = Path.Combine(Path.GetTempPath(), "consumers-demo-t" + tag);
        int[] ports = [FreePort(), FreePort(), FreePort()];
        var log = folder + ".out.log";
        var start = new ProcessStartInfo("bash", ["scripts/demo.sh"])
        {
            WorkingDirectory = StackSettings.RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["DEMO_DIR"] = folder,
                ["DEMO_DB"] = database,
                ["DEMO_VHOST"] = vhost,
                ["DEMO_JOBS"] = "1",
                ["DEMO_ADMIN_PORT"] = ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["DEMO_METRICS_PORTS"] = $"{ports[1]} {ports[2]}",
            },
        };
        using var demo = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        demo.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        demo.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        demo.BeginOutputReadLine();
        demo.BeginErrorReadLine();
        string Output() { lock (output) { return output.ToString(); } }

        try
        {
            await Eventually.WaitAsync(() => Task.FromResult(Output().Contains($"dashboard http://127.0.0.1:{ports[0]}/", StringComparison.Ordinal) || demo.HasExited),
                TimeSpan.FromSeconds(150), () => "the demo did not reach its dashboard:\n" + Output());
            Assert.False(demo.HasExited, Output());
            var pids = new[] { Path.Combine(folder, "logs", "demo-a.pid"), Path.Combine(folder, "logs", "demo-b.pid"), folder + ".admin.pid" }
                .Select(f => int.Parse(File.ReadAllText(f).Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.All(pids, pid => Assert.True(Alive(pid), $"process {pid} of the demo is not running"));

            // As a Ctrl-C or a CI timeout would: the script's trap stops what it started.
            using (var signal = Process.Start("kill", ["-TERM", demo.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            {
                await signal.WaitForExitAsync();
            }

            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await demo.WaitForExitAsync(exited.Token);
            Assert.NotEqual(0, demo.ExitCode);
            Assert.All(pids, pid => Assert.False(Alive(pid), $"process {pid} of the demo still runs after it exited:\n{Output()}"));
            Assert.All(ports, port => Assert.True(IsFree(port), $"port {port} is still taken after the demo exited"));
            Assert.False(File.Exists(folder + ".admin.pid"), "the dashboard's pid file was left although the demo did not finish");
        }
        finally
        {
            if (!demo.HasExited)
            {
                demo.Kill(entireProcessTree: true);
            }

            await File.WriteAllTextAsync(log, Output());
            await using (var admin = new NpgsqlConnection(StackSettings.AdminConnectionString))
            {
                await admin.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", admin);
                await drop.ExecuteNonQueryAsync();
            }

            using var rabbit = new RabbitManagement();
            await rabbit.DeleteVirtualHostAsync(vhost);
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static bool Alive(int pid) => Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
