/// Upgrades a version-0 machine definition (no `version`; nested `cpu`, `network`,
/// `keyboard` and `sound` objects) to the version-1 layout, as the original `migrate0to1` did.
///
/// Version 0 fields: `uuid`, `memory`, `cpu.{threads,cores,sockets}`, `network.{device,mac}`,
/// `keyboard.layout`, `sound.{device,controller}`; other fields are ignored, `null` counts as
/// absent. The result fixes the hardware the version-0 worker used (e1000, vmware-svga, USB
/// keyboard and mouse, no tablet, one thread unless given) and is then checked as version 1,
/// so a version-0 definition without `uuid`, `network.mac` or `keyboard.layout` is rejected.
enum MachineMigration {
    /// The version-1 object for `object`, or `nil` when its fields have types version 0 cannot read.
    /// `issues` receives the type errors; the result is `nil` when there are any.
    static func version1(fromVersion0 object: [String: JSONValue], issues: inout [MachineIssue]) -> [String: JSONValue]? {
        var reader = Version0Reader(object: object)
        let uuid = reader.string(["uuid"])
        let memory = reader.integer(["memory"])
        let threads = reader.integer(["cpu", "threads"])
        let cores = reader.integer(["cpu", "cores"])
        let sockets = reader.integer(["cpu", "sockets"])
        _ = reader.string(["network", "device"])  // read for its type only: version 1 always uses e1000
        let mac = reader.string(["network", "mac"])
        let layout = reader.string(["keyboard", "layout"])
        let hasSound = reader.object(["sound"]) != nil
        let soundDevice = reader.string(["sound", "device"])
        let soundController = reader.string(["sound", "controller"])
        guard reader.issues.isEmpty else {
            issues += reader.issues
            return nil
        }

        var sound = "none"
        if hasSound {
            sound = soundDevice ?? ""
            let controller = soundController ?? ""
            if controller != "pci" {
                sound += "/" + controller
            }
        }
        var result: [MachineField: JSONValue] = [
            .version: .integer(1),
            .uuid: .string(uuid ?? ""),
            .chipset: .string(Machine.Chipset.pcI440FX28.rawValue),
            .cpu: .string(Machine.CPU.host.rawValue),
            .threads: .integer(1),
            .flags: .array([]),
            .usb: .string(Machine.USBController.necXHCI.rawValue),
            .network: .string(Machine.NetworkDevice.e1000.rawValue),
            .mac: .string(mac ?? ""),
            .storage: .string(Machine.StorageDevice.virtioBlockPCI.rawValue),
            .graphics: .string(Machine.GraphicsDevice.vmwareSVGA.rawValue),
            .sound: .string(sound),
            .keyboard: .string(Machine.KeyboardDevice.usb.rawValue),
            .keyboardLayout: .string(layout ?? ""),
            .mouse: .string(Machine.MouseDevice.usb.rawValue),
            .tablet: .string(Machine.TabletDevice.none.rawValue),
        ]
        // Zero meant "unset" in version 0 (Go's zero value), so it is left to the defaults.
        if let threads, threads != 0 { result[.threads] = .integer(threads) }
        if let cores, cores != 0 { result[.cores] = .integer(cores) }
        if let sockets, sockets != 0 { result[.sockets] = .integer(sockets) }
        if let memory, memory != 0 { result[.memory] = .integer(memory) }
        return MachineField.object(result)
    }
}

/// Reads typed fields out of a version-0 object, noting each field of the wrong type.
private struct Version0Reader {
    let object: [String: JSONValue]
    var issues: [MachineIssue] = []

    /// The value at `path`, `nil` when it or a parent is absent or `null`; a parent that is
    /// not an object is an issue.
    mutating func value(_ path: [String]) -> JSONValue? {
        var current = object
        for (depth, key) in path.enumerated() {
            guard let value = current[key], value != .null else { return nil }
            if depth == path.count - 1 { return value }
            guard case .object(let child) = value else {
                let field = path[...depth].joined(separator: ".")
                if !issues.contains(where: { $0.field == field }) {
                    issues.append(MachineIssue(
                        field: field, message: "expected an object in a version-0 definition, found \(value.typeName)"))
                }
                return nil
            }
            current = child
        }
        return nil
    }

    mutating func object(_ path: [String]) -> [String: JSONValue]? {
        guard let value = value(path) else { return nil }
        guard case .object(let child) = value else {
            note(path, "expected an object in a version-0 definition, found \(value.typeName)")
            return nil
        }
        return child
    }

    mutating func string(_ path: [String]) -> String? {
        guard let value = value(path) else { return nil }
        guard case .string(let text) = value else {
            note(path, "expected a string in a version-0 definition, found \(value.typeName)")
            return nil
        }
        return text
    }

    mutating func integer(_ path: [String]) -> Int64? {
        guard let value = value(path) else { return nil }
        guard case .integer(let number) = value else {
            note(path, "expected an integer in a version-0 definition, found \(value.excerpt)")
            return nil
        }
        return number
    }

    private mutating func note(_ path: [String], _ message: String) {
        let field = path.joined(separator: ".")
        if !issues.contains(where: { $0.field == field }) {
            issues.append(MachineIssue(field: field, message: message))
        }
    }
}
