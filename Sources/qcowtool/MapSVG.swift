import ByteStreams
import QCOW2

/// Draws a map as an SVG picture for a person: one horizontal strip per unit of the guest
/// disk (a gigabyte, or a larger power of two so that there are at most 128 strips), each
/// region coloured by kind, with a legend.
enum MapSVG {
    /// The kinds drawn, in legend order, with their colours.
    static let palette: [(kind: String, colour: String, label: String)] = [
        ("data", "#1f6fd1", "data in this image"),
        ("compressed", "#e08a00", "compressed data"),
        ("zero", "#b9c4cf", "zeros (this image)"),
        ("backing", "#2e9e4f", "data from the backing file"),
        ("backing-zero", "#bfe3c9", "zeros / holes in the backing file"),
        ("unallocated", "#ffffff", "unallocated (reads as zeros)"),
    ]

    /// The kind of `entry` as drawn (backing regions split into data and zeros).
    static func kind(of entry: MapEntry) -> String {
        if entry.present && entry.depth > 0 && !entry.data { return "backing-zero" }
        return entry.kind
    }

    /// The whole picture.
    static func render(_ entries: [MapEntry], virtualSize: UInt64, title: String) -> String {
        let gib: UInt64 = 1 << 30
        var unit = gib
        while virtualSize / unit > 128 { unit <<= 1 }
        let strips = max(1, Int((virtualSize + unit - 1) / unit))
        let width = 1024.0, stripHeight = 18.0, gap = 6.0, left = 90.0, top = 40.0
        let legendTop = top + Double(strips) * (stripHeight + gap) + 10
        let height = legendTop + Double(palette.count) * 20 + 20
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(left + width + 20))" height="\(Int(height))" \
            font-family="sans-serif" font-size="12">
            <title>\(escape(title))</title>
            <text x="10" y="20" font-size="14">\(escape(title)) — \(virtualSize) bytes, one strip per \(unit / gib) GiB</text>

            """
        let scale = width / Double(unit)
        for strip in 0..<strips {
            let y = top + Double(strip) * (stripHeight + gap)
            let label = "\(UInt64(strip) * unit / gib) GiB"
            svg += "<text x=\"10\" y=\"\(format(y + 13))\">\(label)</text>\n"
            let stripEnd = min(UInt64(strip + 1) * unit, virtualSize)
            let stripWidth = Double(stripEnd - UInt64(strip) * unit) * scale
            svg += "<rect x=\"\(format(left))\" y=\"\(format(y))\" width=\"\(format(stripWidth))\" height=\"\(format(stripHeight))\" fill=\"#ffffff\" stroke=\"#888888\" stroke-width=\"0.5\"/>\n"
        }
        for entry in entries where entry.length > 0 {
            let colour = palette.first { $0.kind == kind(of: entry) }?.colour ?? "#ff00ff"
            guard colour != "#ffffff" else { continue }
            var start = entry.start
            let end = entry.start &+ entry.length
            while start < end {
                let strip = start / unit
                let stripEnd = min((strip + 1) * unit, end)
                let x = left + Double(start - strip * unit) * scale
                let w = max(Double(stripEnd - start) * scale, 0.5)
                let y = top + Double(strip) * (stripHeight + gap)
                svg += "<rect x=\"\(format(x))\" y=\"\(format(y))\" width=\"\(format(w))\" height=\"\(format(stripHeight))\" fill=\"\(colour)\"/>\n"
                start = stripEnd
            }
        }
        for (index, item) in palette.enumerated() {
            let y = legendTop + Double(index) * 20
            svg += "<rect x=\"\(format(left))\" y=\"\(format(y))\" width=\"14\" height=\"14\" fill=\"\(item.colour)\" stroke=\"#888888\" stroke-width=\"0.5\"/>\n"
            svg += "<text x=\"\(format(left + 20))\" y=\"\(format(y + 12))\">\(item.label)</text>\n"
        }
        return svg + "</svg>\n"
    }

    private static func format(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    private static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}

import SystemPackage

/// Writes `text` to `path` (created or truncated), as a user-requested output file.
func writeTextFile(_ path: String, _ text: String) throws {
    let descriptor = try FileDescriptor.open(
        PathText.filePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead])
    defer { try? descriptor.close() }
    _ = try descriptor.writeAll(Array(text.utf8))
}
