import ByteStreams
import QCOW2

/// Draws a map as an SVG picture for a person: one horizontal strip per unit of the guest
/// disk (a gigabyte, or a larger power of two so that there are at most 128 strips), each
/// region coloured by kind, with a legend.
///
/// Regions are added one at a time as the map is walked, and memory stays bounded whatever
/// their number: the first ``exactLimit`` coloured regions are kept and drawn as one
/// rectangle each; past that the picture becomes a summary of ``columns`` pixel columns per
/// strip, each column keeping only the bytes of each kind it holds and drawn in their
/// colours blended by those bytes (unallocated bytes count as white).
struct MapSVG {
    /// The kinds drawn, in legend order, with their colours.
    static let palette: [(kind: String, colour: String, label: String)] = [
        ("data", "#1f6fd1", "data in this image"),
        ("compressed", "#e08a00", "compressed data"),
        ("zero", "#b9c4cf", "zeros (this image)"),
        ("backing", "#2e9e4f", "data from the backing file"),
        ("backing-zero", "#bfe3c9", "zeros / holes in the backing file"),
        ("unallocated", "#ffffff", "unallocated (reads as zeros)"),
    ]

    /// The most coloured regions drawn one rectangle each; more turn the picture into a summary.
    static let exactLimit = 16_384
    /// Pixel columns per strip (the strip is this many pixels wide).
    static let columns = 1024

    /// The kind of `entry` as drawn (backing regions split into data and zeros).
    static func kind(of entry: MapEntry) -> String {
        if entry.present && entry.depth > 0 && !entry.data { return "backing-zero" }
        return entry.kind
    }

    /// The guest disk's size in bytes.
    let virtualSize: UInt64
    /// Guest bytes per strip.
    let unit: UInt64
    /// Number of strips.
    let strips: Int
    /// Coloured regions kept for drawing exactly (`kind` is an index into ``palette``).
    private var regions: [(start: UInt64, length: UInt64, kind: Int)] = []
    /// Once summarised: bytes of each palette kind per pixel column, `(strip * columns + column) * palette.count + kind`.
    private var columnBytes: [UInt64]?

    /// An empty picture of a disk of `virtualSize` bytes.
    init(virtualSize: UInt64) {
        self.virtualSize = virtualSize
        var unit: UInt64 = 1 << 30
        while virtualSize / unit > 128 { unit <<= 1 }
        self.unit = unit
        strips = max(1, Int((virtualSize + unit - 1) / unit))
    }

    /// Whether the picture is drawn per pixel column rather than per region.
    var isSummary: Bool { columnBytes != nil }

    /// Adds one region of the map.
    mutating func add(_ entry: MapEntry) {
        guard entry.length > 0, let kind = Self.palette.firstIndex(where: { $0.kind == Self.kind(of: entry) }) else { return }
        if columnBytes != nil {
            count(start: entry.start, length: entry.length, kind: kind)
            return
        }
        guard Self.palette[kind].colour != "#ffffff" else { return }
        regions.append((entry.start, entry.length, kind))
        if regions.count > Self.exactLimit {
            columnBytes = [UInt64](repeating: 0, count: strips * Self.columns * Self.palette.count)
            for region in regions { count(start: region.start, length: region.length, kind: region.kind) }
            regions = []
        }
    }

    /// Adds `length` bytes of `kind` from guest offset `start` to the pixel columns they cross.
    private mutating func count(start: UInt64, length: UInt64, kind: Int) {
        let perColumn = unit / UInt64(Self.columns)
        var position = start
        let end = min(start.addingReportingOverflow(length).overflow ? .max : start + length, UInt64(strips) * unit)
        while position < end {
            let column = position / perColumn
            let columnEnd = min((column + 1) * perColumn, end)
            columnBytes?[Int(column) * Self.palette.count + kind] += columnEnd - position
            position = columnEnd
        }
    }

    /// The whole picture, handed to `write` a piece at a time.
    func render(title: String, to write: (String) throws -> Void) throws {
        let gib: UInt64 = 1 << 30
        let width = Double(Self.columns), stripHeight = 18.0, gap = 6.0, left = 90.0, top = 40.0
        let legendTop = top + Double(strips) * (stripHeight + gap) + 10
        let notes = isSummary ? 1 : 0
        let height = legendTop + Double(Self.palette.count + notes) * 20 + 20
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(left + width + 20))" height="\(Int(height))" \
            font-family="sans-serif" font-size="12">
            <title>\(Self.escape(title))</title>
            <text x="10" y="20" font-size="14">\(Self.escape(title)) — \(virtualSize) bytes, one strip per \(unit / gib) GiB</text>

            """
        func emit(_ line: String) throws {
            svg += line
            if svg.utf8.count >= 1 << 16 {
                try write(svg)
                svg = ""
            }
        }
        let scale = width / Double(unit)
        for strip in 0..<strips {
            let y = top + Double(strip) * (stripHeight + gap)
            let label = "\(UInt64(strip) * unit / gib) GiB"
            try emit("<text x=\"10\" y=\"\(Self.format(y + 13))\">\(label)</text>\n")
            let stripEnd = min(UInt64(strip + 1) * unit, virtualSize)
            let stripWidth = Double(stripEnd - UInt64(strip) * unit) * scale
            try emit("<rect x=\"\(Self.format(left))\" y=\"\(Self.format(y))\" width=\"\(Self.format(stripWidth))\" height=\"\(Self.format(stripHeight))\" fill=\"#ffffff\" stroke=\"#888888\" stroke-width=\"0.5\"/>\n")
        }
        if let columnBytes {
            try drawColumns(columnBytes, left: left, top: top, stripHeight: stripHeight, gap: gap, emit: emit)
        }
        for region in regions {
            let colour = Self.palette[region.kind].colour
            var start = region.start
            let end = region.start &+ region.length
            while start < end {
                let strip = start / unit
                let stripEnd = min((strip + 1) * unit, end)
                let x = left + Double(start - strip * unit) * scale
                let w = max(Double(stripEnd - start) * scale, 0.5)
                let y = top + Double(strip) * (stripHeight + gap)
                try emit("<rect x=\"\(Self.format(x))\" y=\"\(Self.format(y))\" width=\"\(Self.format(w))\" height=\"\(Self.format(stripHeight))\" fill=\"\(colour)\"/>\n")
                start = stripEnd
            }
        }
        for (index, item) in Self.palette.enumerated() {
            let y = legendTop + Double(index) * 20
            try emit("<rect x=\"\(Self.format(left))\" y=\"\(Self.format(y))\" width=\"14\" height=\"14\" fill=\"\(item.colour)\" stroke=\"#888888\" stroke-width=\"0.5\"/>\n")
            try emit("<text x=\"\(Self.format(left + 20))\" y=\"\(Self.format(y + 12))\">\(item.label)</text>\n")
        }
        if isSummary {
            let y = legendTop + Double(Self.palette.count) * 20
            try emit("<text x=\"\(Self.format(left))\" y=\"\(Self.format(y + 12))\">more than \(Self.exactLimit) regions: each pixel column blends the colours of the bytes it holds</text>\n")
        }
        try write(svg + "</svg>\n")
    }

    /// One rectangle per run of pixel columns of the same blended colour (white ones left out).
    private func drawColumns(_ columnBytes: [UInt64], left: Double, top: Double, stripHeight: Double, gap: Double,
                             emit: (String) throws -> Void) throws {
        let perColumn = unit / UInt64(Self.columns)
        let kinds = Self.palette.count
        let rgb = Self.palette.map { Self.components($0.colour) }
        for strip in 0..<strips {
            let y = top + Double(strip) * (stripHeight + gap)
            var runStart = 0
            var runColour = "#ffffff"
            func close(at column: Int) throws {
                guard runColour != "#ffffff", column > runStart else { return }
                try emit("<rect x=\"\(Self.format(left + Double(runStart)))\" y=\"\(Self.format(y))\" width=\"\(Self.format(Double(column - runStart)))\" height=\"\(Self.format(stripHeight))\" fill=\"\(runColour)\"/>\n")
            }
            for column in 0..<Self.columns {
                let columnStart = UInt64(strip) * unit + UInt64(column) * perColumn
                let covered = columnStart >= virtualSize ? 0 : min(perColumn, virtualSize - columnStart)
                var colour = "#ffffff"
                if covered > 0 {
                    let base = (strip * Self.columns + column) * kinds
                    var mix = (0.0, 0.0, 0.0)
                    var coloured: UInt64 = 0
                    for kind in 0..<kinds {
                        let bytes = columnBytes[base + kind]
                        coloured += bytes
                        let share = Double(bytes) / Double(covered)
                        mix.0 += share * rgb[kind].0; mix.1 += share * rgb[kind].1; mix.2 += share * rgb[kind].2
                    }
                    let white = Double(covered - min(coloured, covered)) / Double(covered) * 255
                    colour = Self.hexColour(mix.0 + white, mix.1 + white, mix.2 + white)
                }
                if colour != runColour {
                    try close(at: column)
                    runStart = column
                    runColour = colour
                }
            }
            try close(at: Self.columns)
        }
    }

    /// The red, green and blue of `#rrggbb`.
    private static func components(_ colour: String) -> (Double, Double, Double) {
        let value = Int(colour.dropFirst(), radix: 16) ?? 0
        return (Double(value >> 16 & 0xFF), Double(value >> 8 & 0xFF), Double(value & 0xFF))
    }

    /// `#rrggbb` of the three components (0...255, rounded).
    private static func hexColour(_ red: Double, _ green: Double, _ blue: Double) -> String {
        let digits = Array("0123456789abcdef")
        var text = "#"
        for component in [red, green, blue] {
            let value = Int(min(255, max(0, component.rounded())))
            text.append(digits[value >> 4])
            text.append(digits[value & 0xF])
        }
        return text
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
