import ArgumentParser
import ByteStreams
import QCOW2
import SystemPackage

/// The input format of `check`, `map` and `convert`: forced with `-f`, else probed as
/// qemu-img probes it (``ForeignFormat/detect(_:fileName:)``).
enum FormatProbe {
    /// What a file is read as.
    enum Outcome: Equatable {
        /// Read as a raw disk.
        case raw
        /// Read as qcow2 (also when the probe could not read the file: the qcow2 open
        /// that follows reports why).
        case qcow2
        /// qemu-img would open it as this format, which qcowtool does not read.
        case unread(ForeignFormat)
    }

    /// How the open file `file` (`nil` when it could not be read as one) from `path` is read:
    /// as `forced` with `-f`, else as probed.
    static func probe(_ file: ImageFile?, path: String, forced: ImageInspection.Format?) -> Outcome {
        if let forced { return forced == .raw ? .raw : .qcow2 }
        guard let file else { return .qcow2 }
        return probe(file, path: path)
    }

    /// How qemu-img's format probe would read `file`, opened from `path`.
    static func probe(_ file: ImageFile, path: String) -> Outcome {
        guard let prefix = try? file.read(count: Int(min(UInt64(ForeignFormat.prefixLength), file.size)), at: 0) else { return .qcow2 }
        switch ForeignFormat.detect(prefix, fileName: path) {
        case nil: return .raw
        case .qcow2?: return .qcow2
        case let other?: return .unread(other)
        }
    }

    /// Prints the one-line refusal of `command` for a file at `path` that qemu-img would
    /// probe as `format`, and returns the exit status to throw (1, as for a file that
    /// cannot be read).
    static func refuse(_ command: String, path: String, format: ForeignFormat) -> ExitCode {
        printError("\(command): \(TerminalText.quoted(path)): \(UnreadFormatError(format: format))")
        return ExitCode(1)
    }
}
