using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Tests.Artifacts;

public sealed class PathConfinementTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("confine-").FullName;

    [Theory]
    [InlineData("a.json")]
    [InlineData("clips/42/probe.json")]
    public void Relative_keys_resolve_inside_the_root(string key)
    {
        var path = PathConfinement.ResolveKey(root, key, "outputKey");

        Assert.Equal(Path.Combine(root, key), path);
    }

    [Theory]
    [InlineData("../escape.json")]
    [InlineData("a/../../escape.json")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b.json")]
    [InlineData("./a.json")]
    [InlineData("a\\b.json")]
    [InlineData("")]
    [InlineData(".staging/x.json")]
    [InlineData(".quarantine/x.json")]
    [InlineData("clips/.staging")]
    public void Keys_that_leave_the_root_or_are_odd_are_invalid_requests(string key)
    {
        var error = Assert.Throws<JobFailureException>(() => PathConfinement.ResolveKey(root, key, "outputKey"));

        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
        Assert.Equal("outputKey", error.Field);
    }

    [Fact]
    public void A_symbolic_link_inside_the_root_that_points_outside_is_refused()
    {
        var outside = Directory.CreateTempSubdirectory("outside-").FullName;
        Directory.CreateSymbolicLink(Path.Combine(root, "link"), outside);

        var error = Assert.Throws<JobFailureException>(() => PathConfinement.ResolveKey(root, "link/file.json", "outputKey"));

        Assert.Equal("outputKey", error.Field);
        Directory.Delete(outside, recursive: true);
    }

    [Fact]
    public void Sources_resolve_against_the_media_roots()
    {
        File.WriteAllText(Path.Combine(root, "clip.bin"), "x");

        Assert.Equal(Path.Combine(root, "clip.bin"), PathConfinement.ResolveSource([root], "clip.bin", "source"));
        Assert.Equal(Path.Combine(root, "clip.bin"), PathConfinement.ResolveSource([root], Path.Combine(root, "clip.bin"), "source"));
        Assert.Equal(Path.Combine(root, "clip.bin"), PathConfinement.ResolveSource([root], "file://" + Path.Combine(root, "clip.bin"), "source"));
    }

    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("../../etc/passwd")]
    [InlineData("http://example.invalid/clip.mp4")]
    [InlineData("file:///etc/passwd")]
    public void Sources_outside_the_roots_or_with_other_schemes_are_invalid(string source)
    {
        var error = Assert.Throws<JobFailureException>(() => PathConfinement.ResolveSource([root], source, "source"));

        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
        Assert.Equal("source", error.Field);
    }

    [Fact]
    public void A_source_reached_through_a_link_is_judged_by_its_target()
    {
        var outside = Directory.CreateTempSubdirectory("outside-").FullName;
        File.WriteAllText(Path.Combine(outside, "secret.bin"), "s");
        File.CreateSymbolicLink(Path.Combine(root, "innocent.bin"), Path.Combine(outside, "secret.bin"));

        Assert.Throws<JobFailureException>(() => PathConfinement.ResolveSource([root], "innocent.bin", "source"));
        Directory.Delete(outside, recursive: true);
    }

    public void Dispose() => Directory.Delete(root, recursive: true);
}
