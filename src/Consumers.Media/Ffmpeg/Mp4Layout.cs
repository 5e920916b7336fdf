using System.Buffers.Binary;
using System.Text;

namespace Consumers.Media.Ffmpeg;

/// <summary>
/// A structural read-back of an MP4 that ffmpeg wrote with <c>+faststart</c>: top-level boxes that add up to the
/// file's length exactly (nothing cut off, nothing after), <c>ftyp</c> first, <c>moov</c> before <c>mdat</c>, and an
/// H.264 sample description (<c>avc1</c> with its <c>avcC</c>) in the <c>moov</c>. It reads the box headers and the
/// <c>moov</c> only, in-process, so a fresh proxy is checked without starting ffprobe.
/// </summary>
public static class Mp4Layout
{
    /// <summary>Larger <c>moov</c> boxes are left to ffprobe (a 240p proxy's is tens of kilobytes).</summary>
    private const long MaxMovieBoxBytes = 16 * 1024 * 1024;

    /// <returns>True when all of the above holds; false for anything else, which the caller checks the slow way.</returns>
    public static bool IsWholeFastStartH264(string path)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
            var length = file.Length;
            var header = new byte[16];
            long position = 0;
            var boxes = 0;
            var sawMovie = false;
            var movieHasH264 = false;
            while (position < length)
            {
                file.Position = position;
                if (file.ReadAtLeast(header.AsSpan(0, 8), 8, throwOnEndOfStream: false) < 8)
                {
                    return false;
                }

                long size = BinaryPrimitives.ReadUInt32BigEndian(header);
                var type = Encoding.ASCII.GetString(header, 4, 4);
                var headerBytes = 8;
                if (size == 1)
                {
                    if (file.ReadAtLeast(header.AsSpan(8, 8), 8, throwOnEndOfStream: false) < 8)
                    {
                        return false;
                    }

                    size = (long)BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(8));
                    headerBytes = 16;
                }
                else if (size == 0)
                {
                    // "To the end of the file": only the last box may say so.
                    size = length - position;
                }

                if (size < headerBytes || size > length - position)
                {
                    return false;
                }

                if (boxes == 0 && type != "ftyp")
                {
                    return false;
                }

                if (type == "mdat" && !sawMovie)
                {
                    // Not fast-start: the index comes after the media data.
                    return false;
                }

                if (type == "moov")
                {
                    if (sawMovie || size > MaxMovieBoxBytes)
                    {
                        return false;
                    }

                    var movie = new byte[size - headerBytes];
                    file.ReadExactly(movie);
                    movieHasH264 = movie.AsSpan().IndexOf("avc1"u8) >= 0 && movie.AsSpan().IndexOf("avcC"u8) >= 0;
                    sawMovie = true;
                }

                position += size;
                boxes++;
            }

            return sawMovie && movieHasH264 && position == length;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
