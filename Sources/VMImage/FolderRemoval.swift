import ByteStreams
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deletes an image folder this library made: the regular files directly inside it (never
/// following a link), then the folder. A folder holding a subfolder is left in place and
/// reported, since image folders never have one.
func removeImageFolder(_ path: FilePath) throws(VMImageError) {
    let folder: FileDescriptor
    do throws(SystemCallError) {
        folder = try SystemCall.openSubfolder(path.string, in: nil, path: path.string)
    } catch where error.errno == .noSuchFileOrDirectory {
        return
    } catch {
        throw fileSystemError(error)
    }
    var failure: VMImageError?
    do throws(SystemCallError) {
        for bytes in try SystemCall.entryNames(of: folder, path: path.string) {
            let name = PathText.text(bytes)
            do throws(SystemCallError) {
                try SystemCall.unlink(name, in: folder, path: path.string + "/" + TerminalText.escaping(bytes))
            } catch where error.errno != .noSuchFileOrDirectory {
                failure = failure ?? fileSystemError(error)
            } catch {}
        }
    } catch {
        failure = fileSystemError(error)
    }
    SystemCall.closeIgnoringErrors(folder)
    if let failure { throw failure }
    do throws(SystemCallError) {
        try SystemCall.removeFolder(path.string, in: nil, path: path.string)
    } catch where error.errno != .noSuchFileOrDirectory {
        throw fileSystemError(error)
    } catch {}
}

/// A new name `prefix-<random>` for a file or folder.
func randomName(_ prefix: String) -> String {
    var generator = SystemRandomNumberGenerator()
    return "\(prefix)-\(String(generator.next(), radix: 36))"
}
