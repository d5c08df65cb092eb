/// The fields of a version-1 `machine.json`, each spelled once as its JSON key.
///
/// The encoder (`Machine.jsonObject`), the schema parser (`MachineParser`) and the version-0
/// migration (`MachineMigration`) all name fields through this type, and the encoder and the
/// parser switch over it exhaustively: a new field is added here, and the compiler then points
/// at the two places that must learn it.
enum MachineField: String, CaseIterable, Sendable {
    case version, uuid, chipset, cpu, flags, threads, cores, sockets, memory, usb, network, mac, storage
    case graphics, vgaMemory
    case graphicsRAM = "graphicsRam"
    case graphicsVRAM = "graphicsVRam"
    case sound, keyboard, keyboardLayout, mouse, tablet

    /// `fields` as a JSON object body, keyed by each field's JSON name.
    static func object(_ fields: [MachineField: JSONValue]) -> [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: fields.map { ($0.key.rawValue, $0.value) })
    }
}
