import ArgumentParser
import ByteStreams
import SystemPackage
import VMImage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `qcowtool cache list|remove|prune`: see and clean an image manager's folder.
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "See and clean an image manager's image folder (cached images, leftovers of crashes).",
        discussion: """
            Each command takes the folder's lock (.vmimage.lock), as a running image manager \
            does, and fails at once when a manager holds it: a folder is never changed under \
            a running worker, and while the lock is held no image in it is in use.
            """,
        subcommands: [CacheList.self, CacheRemove.self, CachePrune.self, CacheCrashChild.self])
}

/// `qcowtool cache list FOLDER`.
struct CacheList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the complete images (last use, disk usage, image ID) and what a manager would remove.")

    @Argument(help: "The image folder.")
    var folder: String

    func run() throws {
        do {
            let contents = try ImageCache(folder: FilePath(folder)).contents()
            for image in contents.images {
                print("\(utcTimestamp(milliseconds: image.lastUsedMilliseconds))  \(pad(humanBytes(image.diskUsage), 10))  "
                      + "\(TerminalText.escaping(image.imageID))  \(image.folder.lastComponent?.string ?? "")")
            }
            for line in contents.removable {
                print("removable: \(line)")
            }
            if contents.images.isEmpty && contents.removable.isEmpty {
                print("(empty)")
            }
        } catch {
            throw ImageExit.fail("cache list", folder, error)
        }
    }
}

/// `qcowtool cache remove FOLDER ID`.
struct CacheRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove the cached image with the given image ID.",
        discussion: "Exit status: 0 when it was removed; 1 when the folder holds no such image or on any failure.")

    @Argument(help: "The image folder.")
    var folder: String

    @Argument(help: "The image ID (as given to the image manager).")
    var imageID: String

    func run() throws {
        let removed: Int
        do {
            removed = try ImageCache(folder: FilePath(folder)).remove(imageID: imageID)
        } catch {
            throw ImageExit.fail("cache remove", folder, error)
        }
        guard removed > 0 else {
            printError("cache remove: \(TerminalText.escaping(folder)): no image with the ID \(TerminalText.quoted(imageID))")
            throw ExitCode(ImageExit.failed)
        }
        print("removed \(TerminalText.escaping(imageID))")
    }
}

/// `qcowtool cache prune FOLDER`.
struct CachePrune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove everything not in use: every image and every leftover (the folder's lock proves no manager uses them).")

    @Argument(help: "The image folder.")
    var folder: String

    func run() throws {
        do {
            let removed = try ImageCache(folder: FilePath(folder)).prune()
            print("removed \(removed) entr\(removed == 1 ? "y" : "ies")")
        } catch {
            throw ImageExit.fail("cache prune", folder, error)
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a wall-clock time in milliseconds since the epoch.
func utcTimestamp(milliseconds: Int64) -> String {
    var seconds = time_t(milliseconds / 1000)
    var parts = tm()
    guard gmtime_r(&seconds, &parts) != nil else { return "?" }
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}

/// `bytes` with a binary unit (`512 B`, `1.5 MiB`).
func humanBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    if unit == 0 { return "\(bytes) B" }
    let tenths = (value * 10).rounded()
    return "\(Int(tenths) / 10).\(Int(tenths) % 10) \(units[unit])"
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}
