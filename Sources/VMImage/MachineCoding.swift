extension Machine {
    /// Reads a machine definition from the bytes of `machine.json`: at most
    /// ``maxDefinitionSize`` bytes of strict JSON (RFC 8259; no duplicate keys, at most 64
    /// levels deep) holding an object, migrated from version 0 when it
    /// has no `version`, then checked against the version-1 schema.
    ///
    /// - Parameters:
    ///   - bytes: the file's contents.
    ///   - member: the name used in errors (the archive member or file).
    /// - Throws: ``VMImageError/malformedPayload(member:rule:message:)`` for an oversized
    ///   file or bad JSON, ``VMImageError/invalidMachine(member:issues:)`` listing every
    ///   violated field otherwise.
    public init(json bytes: some Collection<UInt8>, member: String = "machine.json") throws(VMImageError) {
        guard bytes.count <= Machine.maxDefinitionSize else {
            throw .malformedPayload(
                member: member, rule: .sizeLimit,
                message: "the file is \(bytes.count) bytes; a machine definition is at most \(Machine.maxDefinitionSize) bytes (1 MiB)")
        }
        let value: JSONValue
        do {
            value = try JSONReader.parse(Array(bytes))
        } catch {
            throw .malformedPayload(member: member, rule: .jsonSyntax, message: "not valid JSON: \(error)")
        }
        self = try Machine(jsonValue: value, member: member)
    }

    /// The machine in an already parsed JSON document (see ``init(json:member:)``).
    init(jsonValue value: JSONValue, member: String) throws(VMImageError) {
        guard case .object(var object) = value else {
            throw .malformedPayload(
                member: member, rule: .jsonSyntax,
                message: "a machine definition must be a JSON object, found \(value.typeName)")
        }
        switch object[MachineField.version.rawValue] {
        case nil, .integer(0):
            var issues: [MachineIssue] = []
            guard let migrated = MachineMigration.version1(fromVersion0: object, issues: &issues) else {
                throw .invalidMachine(member: member, issues: issues)
            }
            object = migrated
        case .integer(Int64(Machine.formatVersion)):
            break
        case let version?:
            throw .invalidMachine(member: member, issues: [MachineIssue(
                field: MachineField.version.rawValue,
                message: "\(version.excerpt) is not a supported format version (1, or 0 when absent)")])
        }
        var parser = MachineParser()
        guard let machine = parser.parseVersion1(object) else {
            throw .invalidMachine(member: member, issues: parser.issues)
        }
        self = machine
    }

    /// The machine as `machine.json` bytes: `version` always, unset fields left out, keys
    /// sorted (so equal machines give equal bytes), indented when `pretty`.
    public func jsonBytes(pretty: Bool = false) throws -> [UInt8] {
        JSONWriter.bytes(.object(jsonObject), pretty: pretty)
    }

    /// The set fields as a JSON object, with `version`.
    var jsonObject: [String: JSONValue] {
        var fields: [MachineField: JSONValue] = [:]
        for field in MachineField.allCases {
            fields[field] = jsonValue(of: field)
        }
        return MachineField.object(fields)
    }

    /// The JSON value of `field`, `nil` when it is unset.
    private func jsonValue(of field: MachineField) -> JSONValue? {
        func text(_ value: String?) -> JSONValue? { value.map { .string($0) } }
        func option<Option: RawRepresentable<String>>(_ value: Option?) -> JSONValue? { value.map { .string($0.rawValue) } }
        func integer(_ value: Int?) -> JSONValue? { value.map { .integer(Int64($0)) } }
        switch field {
        case .version: return .integer(Int64(Machine.formatVersion))
        case .uuid: return text(uuid)
        case .chipset: return option(chipset)
        case .cpu: return option(cpu)
        case .flags: return flags.map { .array($0.map { .string($0) }) }
        case .threads: return integer(threads)
        case .cores: return integer(cores)
        case .sockets: return integer(sockets)
        case .memory: return integer(memory)
        case .usb: return option(usb)
        case .network: return option(network)
        case .mac: return text(mac)
        case .storage: return option(storage)
        case .graphics: return option(graphics)
        case .vgaMemory: return integer(vgaMemory)
        case .graphicsRAM: return integer(graphicsRAM)
        case .graphicsVRAM: return integer(graphicsVRAM)
        case .sound: return option(sound)
        case .keyboard: return option(keyboard)
        case .keyboardLayout: return option(keyboardLayout)
        case .mouse: return option(mouse)
        case .tablet: return option(tablet)
        }
    }
}

extension Machine: Codable {
    /// Decodes a machine definition with the same migration and whole-schema check as
    /// ``init(json:member:)``; a violation is thrown as ``VMImageError``.
    public init(from decoder: any Decoder) throws {
        self = try Machine(jsonValue: JSONValue(from: decoder), member: "machine.json")
    }

    /// Encodes the set fields and `version`; unset fields are left out.
    public func encode(to encoder: any Encoder) throws {
        try JSONValue.object(jsonObject).encode(to: encoder)
    }
}
