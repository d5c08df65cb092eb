import ByteStreams
import QCOW2

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Human-readable output of `qcowtool inspect`, in the spirit of `qemu-img info`.
enum InspectReport {
    /// Writes one line to standard error, prefixed with the tool's name.
    static func complain(_ line: String) {
        printError(line.split(separator: "\n").joined(separator: " "))
    }

    /// The report for one file. Every name taken from the image or the command line (file,
    /// backing and data-file names, formats, snapshot IDs and names, bitmap names) is shown
    /// through ``TerminalText``; audit messages are made with such names already escaped.
    static func human(_ inspection: ImageInspection) -> String {
        let info = inspection.info
        var lines = [
            "image: \(shown(info.filename))",
            "file format: \(shown(info.format))",
            "virtual size: \(size(info.virtualSize)) (\(info.virtualSize) bytes)",
        ]
        if let actual = info.actualSize { lines.append("disk size: \(size(actual))") }
        if let cluster = info.clusterSize { lines.append("cluster_size: \(cluster)") }
        if info.encrypted == true { lines.append("encrypted: yes") }
        if let backing = info.backingFilename {
            var line = "backing file: \(shown(backing))"
            if let full = info.fullBackingFilename, full != backing { line += " (actual path: \(shown(full)))" }
            lines.append(line)
        }
        if let format = info.backingFilenameFormat { lines.append("backing file format: \(shown(format))") }
        if !info.snapshots.isEmpty {
            lines.append("Snapshot list:")
            lines.append("ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT")
            for s in info.snapshots {
                // qemu's bdrv_snapshot_dump layout: "%-9s %-17s %7s%20s%13s%11s".
                let ms = s.vmClockNanoseconds / 1_000_000
                let clock = two(ms / 3_600_000) + ":" + two(ms / 60_000 % 60) + ":" + two(ms / 1000 % 60) + "." + three(ms % 1000)
                let icount = s.icount.map(String.init) ?? ""
                lines.append(pad(shown(s.id), 9) + " " + pad(shown(s.name), 17) + " " + right(size(s.vmStateSize), 7)
                             + right(date(s.dateSeconds), 20) + right(clock, 13) + right(icount, 11))
            }
        }
        if let data = info.formatSpecific {
            lines.append("Format specific information:")
            lines.append("    compat: \(shown(data.compat))")
            lines.append("    compression type: \(shown(data.compressionType))")
            if let lazy = data.lazyRefcounts { lines.append("    lazy refcounts: \(lazy)") }
            if let bitmaps = data.bitmaps {
                lines.append("    bitmaps:")
                for b in bitmaps {
                    lines.append("        [\(shown(b.name))] granularity: \(b.granularity), flags: [\(b.flags.map(shown).joined(separator: ", "))]")
                }
            }
            lines.append("    refcount bits: \(data.refcountBits)")
            if let encrypt = data.encrypt {
                switch encrypt {
                case .aes: lines.append("    encrypt: format: aes")
                case let .luks(h):
                    lines.append("    encrypt: format: luks, cipher: \(shown(h.cipherAlgorithm))-\(shown(h.cipherMode))-\(shown(h.ivGenerator)), hash: \(shown(h.hashAlgorithm)), active key slots: \(h.keySlots.filter(\.isActive).count)")
                }
            }
            if let corrupt = data.corrupt { lines.append("    corrupt: \(corrupt)") }
            if let dataFile = data.dataFile { lines.append("    data file: \(shown(dataFile))") }
            if let raw = data.dataFileRaw { lines.append("    data file raw: \(raw)") }
            if let extended = data.extendedL2 { lines.append("    extended l2: \(extended)") }
        }
        let audit = inspection.audit
        let verdict = audit.isSafe ? (audit.findings.isEmpty ? "safe" : "safe, with warnings") : "UNSAFE"
        lines.append("audit: \(verdict)")
        for finding in audit.findings {
            lines.append("    \(finding.severity.rawValue) \(finding.code): \(finding.message)")
        }
        return lines.joined(separator: "\n")
    }

    /// `text` with terminal control characters and invalid UTF-8 escaped.
    private static func shown(_ text: String) -> String { TerminalText.escaping(text) }

    /// `1 MiB`, `196 KiB`, `1.5 GiB`: three significant digits, binary units.
    static func size(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var unit = 0
        var scaled = Double(bytes)
        while scaled >= 1000, unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let decimals = scaled >= 100 ? 0 : scaled >= 10 ? 1 : 2
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        var text = String((scaled * factor).rounded() / factor)
        if text.hasSuffix(".0") { text.removeLast(2) }
        return "\(text) \(units[unit])"
    }

    /// `2026-11-29 08:57:35` in local time, as qemu-img prints snapshot dates.
    static func date(_ seconds: UInt32) -> String {
        var time = time_t(seconds)
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return String(seconds) }
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func two(_ n: UInt64) -> String { n < 10 ? "0\(n)" : "\(n)" }
    private static func three(_ n: UInt64) -> String { n < 10 ? "00\(n)" : n < 100 ? "0\(n)" : "\(n)" }

    private static func right(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
