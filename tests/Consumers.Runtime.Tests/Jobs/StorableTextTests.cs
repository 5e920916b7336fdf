using Consumers.Runtime.Jobs;

namespace Consumers.Runtime.Tests.Jobs;

public sealed class StorableTextTests
{
    [Theory]
    [InlineData("plain")]
    [InlineData("ünïcödé 😀")]
    [InlineData("")]
    public void Ordinary_text_is_storable_and_kept_as_it_is(string value)
    {
        Assert.Null(StorableText.Problem(value));
        Assert.Same(value, StorableText.Sanitize(value));
    }

    [Theory]
    [InlineData("a\0b", "a\uFFFDb")]
    [InlineData("\0😀\0", "\uFFFD😀\uFFFD")]
    public void NUL_and_lone_surrogates_are_found_and_replaced(string value, string sanitized)
    {
        Assert.NotNull(StorableText.Problem(value));
        Assert.Equal(sanitized, StorableText.Sanitize(value));
        Assert.Null(StorableText.Problem(StorableText.Sanitize(value)));
    }

    [Fact]
    public void Lone_surrogates_are_found_and_replaced()
    {
        // Built here: a test case's arguments travel as UTF-8, which cannot carry a lone surrogate.
        var high = "" + (char)0xD800 + "x";
        var low = "x" + (char)0xDC00;

        Assert.Equal("contains an unpaired surrogate (U+D800) at position 0", StorableText.Problem(high));
        Assert.Equal("contains an unpaired surrogate (U+DC00) at position 1", StorableText.Problem(low));
        Assert.Equal("\uFFFDx", StorableText.Sanitize(high));
        Assert.Equal("x\uFFFD", StorableText.Sanitize(low));
    }

    [Fact]
    public void Truncating_never_leaves_half_a_surrogate_pair()
    {
        Assert.Equal("ab", StorableText.Truncate("ab😀", 3));
        Assert.Equal("ab😀", StorableText.Truncate("ab😀c", 4));
        Assert.Equal("abc", StorableText.Truncate("abc", 10));
    }
}
