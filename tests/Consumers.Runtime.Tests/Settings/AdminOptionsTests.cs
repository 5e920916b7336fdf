using Consumers.Admin;

namespace Consumers.Runtime.Tests.Settings;

/// <summary>The admin server's settings refuse to run open, weak or shared keys, and addresses or ports that cannot work.</summary>
public sealed class AdminOptionsTests
{
    private const string Key = "0123456789abcdef";

    [Fact]
    public void One_operator_with_a_long_enough_key_is_enough()
    {
        Assert.Empty(new AdminOptions { Operators = { ["alice"] = Key } }.Problems());
        Assert.Empty(new AdminOptions { Viewers = { ["bob"] = Key } }.Problems());
    }

    [Fact]
    public void Without_any_credential_it_refuses_to_run_open()
    {
        var problem = Assert.Single(new AdminOptions().Problems());
        Assert.StartsWith("Consumers:Admin:Operators must name at least one credential", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Short_and_shared_keys_are_named_by_their_credential()
    {
        var problems = new AdminOptions
        {
            Viewers = { ["bob"] = Key, ["eve"] = "short" },
            Operators = { ["alice"] = Key },
        }.Problems();

        Assert.Equal(2, problems.Count);
        Assert.Contains("Consumers:Admin:Viewers:eve key must be at least 16 characters", problems);
        Assert.Contains("Consumers:Admin:Operators:alice key is already another credential's; each person gets their own", problems);
    }

    [Theory]
    [InlineData("localhost", 9470, "Consumers:Admin:Address")]
    [InlineData("127.0.0.1", 70000, "Consumers:Admin:Port")]
    [InlineData("127.0.0.1", -1, "Consumers:Admin:Port")]
    public void Addresses_and_ports_that_cannot_be_bound_are_refused(string address, int port, string key)
    {
        var problem = Assert.Single(new AdminOptions { Address = address, Port = port, Operators = { ["alice"] = Key } }.Problems());
        Assert.StartsWith(key + " ", problem, StringComparison.Ordinal);
    }
}
