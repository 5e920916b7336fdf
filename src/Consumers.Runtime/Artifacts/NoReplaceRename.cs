using System.Runtime.InteropServices;

namespace Consumers.Runtime.Artifacts;

/// <summary>
/// Moves a file to a name that must still be free, atomically: of two racing moves to one name exactly one wins and
/// the other changes nothing. <c>File.Move(overwrite: false)</c> cannot promise that on Linux: it checks that the
/// target is absent and then calls rename(2), so the later of two racers silently replaces the earlier one's file.
/// </summary>
internal static partial class NoReplaceRename
{
    private const int CurrentDirectory = -100; // AT_FDCWD
    private const uint NoReplace = 1; // RENAME_NOREPLACE
    private const int AlreadyExists = 17; // EEXIST
    private const int InvalidArgument = 22; // EINVAL: this filesystem does not know the flag
    private const int NotImplemented = 38; // ENOSYS
    private const int NotSupported = 95; // EOPNOTSUPP

    /// <returns>False when <paramref name="target"/> already exists; the source is then left where it was.</returns>
    public static bool TryMove(string source, string target)
    {
        if (RenameAt2(CurrentDirectory, source, CurrentDirectory, target, NoReplace) == 0)
        {
            return true;
        }

        var error = Marshal.GetLastPInvokeError();
        if (error is InvalidArgument or NotImplemented or NotSupported)
        {
            // Without RENAME_NOREPLACE (NFS, some FUSE filesystems) link(2) is just as exclusive; then the old name goes.
            if (Link(source, target) == 0)
            {
                File.Delete(source);
                return true;
            }

            error = Marshal.GetLastPInvokeError();
        }

        return error == AlreadyExists
            ? false
            : throw new IOException($"could not move '{source}' to '{target}' without replacing: {Marshal.GetPInvokeErrorMessage(error)}", error);
    }

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int sourceDirectory, string source, int targetDirectory, string target, uint flags);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string source, string target);
}
