using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Consumers.Testing.Faults;

/// <summary>
/// A TCP proxy between one client (a worker) and one service (the shared PostgreSQL or RabbitMQ) that a test
/// controls, to make network faults without touching the shared service: <see cref="Blackhole"/> is a half-open
/// partition (every connection stays open on both sides, nothing moves in either direction, new connections are
/// accepted and then hear nothing), <see cref="Heal"/> lets everything flow again (bytes held meanwhile are
/// delivered in order, as TCP retransmission would), <see cref="CutAll"/> resets every connection at once.
/// Listens on 127.0.0.1 on a free port.
/// </summary>
public sealed class TcpFaultProxy : IAsyncDisposable
{
    private static readonly TimeSpan DrainBound = TimeSpan.FromSeconds(2);

    private readonly TcpListener listener;
    private readonly string targetHost;
    private readonly int targetPort;
    private readonly CancellationTokenSource stopping = new();
    private readonly Lock gate = new();
    private readonly HashSet<Link> links = [];
    private readonly Task acceptLoop;
    private TaskCompletionSource healed = Healed();
    private bool forwarding = true;
    private int writesInFlight;
    private long bytesForwarded;
    private long accepted;

    private TcpFaultProxy(string targetHost, int targetPort)
    {
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        acceptLoop = Task.Run(AcceptAsync);
    }

    /// <summary>The port clients connect to (on 127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>True while bytes flow; false between <see cref="Blackhole"/> and <see cref="Heal"/>.</summary>
    public bool IsForwarding
    {
        get
        {
            lock (gate)
            {
                return forwarding;
            }
        }
    }

    /// <summary>Client connections open now (each with its upstream connection, or waiting for one while blackholed).</summary>
    public int OpenConnections
    {
        get
        {
            lock (gate)
            {
                return links.Count;
            }
        }
    }

    /// <summary>Client connections accepted since start.</summary>
    public long AcceptedConnections => Interlocked.Read(ref accepted);

    /// <summary>Bytes passed on in either direction since start.</summary>
    public long BytesForwarded => Interlocked.Read(ref bytesForwarded);

    /// <summary>Starts a proxy to <paramref name="host"/>:<paramref name="port"/>.</summary>
    public static TcpFaultProxy Start(string host, int port) => new(host, port);

    /// <summary>Starts a proxy to the server of an Npgsql connection string; <see cref="Route"/> gives the string to use instead.</summary>
    public static TcpFaultProxy ForPostgres(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return Start(builder.Host ?? "127.0.0.1", builder.Port);
    }

    /// <summary><paramref name="connectionString"/> pointed at this proxy (everything else kept).</summary>
    public string Route(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Host = "127.0.0.1", Port = Port }.ConnectionString;

    /// <summary>
    /// Half-open partition: from the moment this returns, no byte moves in either direction and no connection is
    /// closed; a new connection is accepted but not connected upstream. Writes that were already under way
    /// finish first (they take microseconds on loopback).
    /// </summary>
    public void Blackhole()
    {
        lock (gate)
        {
            if (!forwarding)
            {
                return;
            }

            forwarding = false;
            healed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        // A write that passed the gate just before may still be in the kernel call; after this nothing is.
        SpinWait.SpinUntil(() => Volatile.Read(ref writesInFlight) == 0, DrainBound);
    }

    /// <summary>Lets bytes flow again: what was held is delivered in order; waiting connections connect upstream.</summary>
    public void Heal()
    {
        TaskCompletionSource release;
        lock (gate)
        {
            if (forwarding)
            {
                return;
            }

            forwarding = true;
            release = healed;
        }

        release.TrySetResult();
    }

    /// <summary>Resets every open connection on both sides (RST, as a crashed middlebox or a failover would). New connections are accepted as before.</summary>
    public void CutAll()
    {
        Link[] open;
        lock (gate)
        {
            open = [.. links];
        }

        foreach (var link in open)
        {
            link.Reset();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Stop();
        Heal();
        CutAll();
        try
        {
            await acceptLoop;
        }
        catch (OperationCanceledException)
        {
        }

        stopping.Dispose();
    }

    private static TaskCompletionSource Healed()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref accepted);
            client.NoDelay = true;
            var link = new Link(this, client);
            lock (gate)
            {
                links.Add(link);
            }

            _ = Task.Run(link.RunAsync);
        }
    }

    /// <summary>Waits until bytes may flow, then counts a write in flight; <see cref="ExitWrite"/> ends it.</summary>
    private async Task EnterWriteAsync(CancellationToken linkBroken)
    {
        while (true)
        {
            Task wait;
            lock (gate)
            {
                if (forwarding)
                {
                    writesInFlight++;
                    return;
                }

                wait = healed.Task;
            }

            await wait.WaitAsync(linkBroken);
        }
    }

    private void ExitWrite()
    {
        lock (gate)
        {
            writesInFlight--;
        }
    }

    private void Forget(Link link)
    {
        lock (gate)
        {
            links.Remove(link);
        }
    }

    /// <summary>One client connection and its upstream connection, with a pump each way.</summary>
    private sealed class Link(TcpFaultProxy proxy, Socket client) : IDisposable
    {
        private readonly CancellationTokenSource broken = new();
        private Socket? upstream;
        private int reset;

        public async Task RunAsync()
        {
            try
            {
                // Blackholed: the client is connected to us, but we do not reach the server until healed.
                await proxy.EnterWriteAsync(broken.Token);
                try
                {
                    upstream = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await upstream.ConnectAsync(proxy.targetHost, proxy.targetPort, broken.Token);
                }
                finally
                {
                    proxy.ExitWrite();
                }

                await Task.WhenAll(PumpAsync(client, upstream), PumpAsync(upstream, client));
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                Reset();
            }
            finally
            {
                Dispose();
                proxy.Forget(this);
            }
        }

        public void Dispose()
        {
            client.Dispose();
            upstream?.Dispose();
            broken.Dispose();
        }

        /// <summary>Closes both sides with RST (linger 0), which breaks any pending read or write.</summary>
        public void Reset()
        {
            if (Interlocked.Exchange(ref reset, 1) == 1)
            {
                return;
            }

            try
            {
                broken.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            foreach (var socket in new[] { client, upstream })
            {
                try
                {
                    if (socket is not null)
                    {
                        socket.LingerState = new LingerOption(true, 0);
                        socket.Close();
                    }
                }
                catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
                {
                }
            }
        }

        // Read, wait for the gate, write: a chunk read just before a blackhole is held until the heal.
        private async Task PumpAsync(Socket from, Socket to)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    var read = await from.ReceiveAsync(buffer, SocketFlags.None, broken.Token);
                    await proxy.EnterWriteAsync(broken.Token);
                    try
                    {
                        if (read == 0)
                        {
                            // The sender closed its side: pass the half-close on, keep the other direction.
                            to.Shutdown(SocketShutdown.Send);
                            return;
                        }

                        var sent = 0;
                        while (sent < read)
                        {
                            sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, broken.Token);
                        }

                        Interlocked.Add(ref proxy.bytesForwarded, read);
                    }
                    finally
                    {
                        proxy.ExitWrite();
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // One direction broke (a reset, a cut, disposal): the connection is gone for both.
                Reset();
            }
        }
    }
}
