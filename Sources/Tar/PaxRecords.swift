/// Parsing of pax extended header data: records of the form `"%d %s=%s\n"` where the
/// leading decimal is the record's whole length.
enum PaxRecords {
    /// The records of `data`, in order (for tests and small headers; the reader uses
    /// ``forEach(in:member:offset:_:)`` so that it keeps only the records it acts on).
    static func parse(_ data: [UInt8], member: String?, offset: UInt64) throws -> [(key: String, value: [UInt8])] {
        var records: [(key: String, value: [UInt8])] = []
        try forEach(in: data, member: member, offset: offset) { records.append(($0, Array($1))) }
        return records
    }

    /// Calls `body` with each record's key and value, in order. Throws a `TarError` naming
    /// the record's position when one is malformed.
    static func forEach(
        in data: [UInt8], member: String?, offset: UInt64, _ body: (String, ArraySlice<UInt8>) throws -> Void
    ) throws {
        var position = 0
        let count = data.count
        while position < count {
            // Some writers pad the data with NULs; stop at the first one.
            if data[position] == 0 { break }
            let recordStart = position
            var lengthEnd = position
            while lengthEnd < count, lengthEnd - position < 20, data[lengthEnd] != 0x20 { lengthEnd += 1 }
            guard lengthEnd < count, data[lengthEnd] == 0x20,
                let length = TarNumber.decimal(data[position..<lengthEnd]),
                length > UInt64(lengthEnd - position + 1), length <= UInt64(count - recordStart)
            else {
                throw TarError(.badExtendedHeader, "pax record at byte \(recordStart) has a bad length", member: member, offset: offset)
            }
            let recordEnd = recordStart + Int(length)
            guard data[recordEnd - 1] == 0x0A else {
                throw TarError(.badExtendedHeader, "pax record at byte \(recordStart) does not end with a newline", member: member, offset: offset)
            }
            let recordBody = (lengthEnd + 1)..<(recordEnd - 1)
            guard let equals = data[recordBody].firstIndex(of: 0x3D), equals > recordBody.lowerBound else {
                throw TarError(.badExtendedHeader, "pax record at byte \(recordStart) has no 'key=value'", member: member, offset: offset)
            }
            try body(String(decoding: data[recordBody.lowerBound..<equals], as: UTF8.self), data[(equals + 1)..<recordBody.upperBound])
            position = recordEnd
        }
    }

    /// One encoded record `"<len> key=value\n"`.
    static func record(_ key: String, _ value: [UInt8]) -> [UInt8] {
        let payload = Array(" \(key)=".utf8) + value + [0x0A]
        // The length counts its own digits: find the fixed point.
        var digits = TarNumber.decimalDigitCount(UInt64(payload.count))
        while TarNumber.decimalDigitCount(UInt64(payload.count + digits)) != digits { digits += 1 }
        return TarNumber.decimalBytes(UInt64(payload.count + digits)) + payload
    }

    /// A pax time value (`[-]seconds[.fraction]`) truncated to whole seconds; `nil` when malformed.
    static func seconds(_ value: [UInt8]) -> Int64? {
        var digits = value[...]
        var negative = false
        if digits.first == 0x2D {
            negative = true
            digits = digits.dropFirst()
        }
        if let dot = digits.firstIndex(of: 0x2E) {
            guard digits[(dot + 1)...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            digits = digits[..<dot]
        }
        guard let magnitude = TarNumber.decimal(digits), let signed = Int64(exactly: magnitude) else { return nil }
        return negative ? -signed : signed
    }
}
