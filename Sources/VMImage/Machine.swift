/// The virtual hardware of an image: the `machine.json` beside the disk in an image archive.
///
/// Mirrors taskcluster-worker's `vm.Machine`, format version 1. Every field is optional: an
/// unset field is left out of the JSON and takes the host's choice, usually from
/// ``withDefaults(_:)`` with ``defaults``. Decoding (``init(json:member:)`` or `Decodable`)
/// migrates a version-0 definition, then checks the whole schema and reports every violated
/// field at once. A value built in code is checked with ``validationIssues``.
public struct Machine: Sendable, Hashable {
    /// The format version this type reads and always writes.
    public static let formatVersion = 1
    /// The largest `machine.json` accepted, in bytes (1 MiB).
    public static let maxDefinitionSize = 1 << 20

    /// System UUID (lowercase RFC 4122, versions 1–5).
    public var uuid: String?
    /// Emulated chipset.
    public var chipset: Chipset?
    /// CPU model.
    public var cpu: CPU?
    /// Extra CPU flags. The format defines none, so only an empty list is valid; `nil` (unset)
    /// and `[]` are kept apart as in the original.
    public var flags: [String]?
    /// Threads per core, 1…255.
    public var threads: Int?
    /// Cores per socket, 1…255.
    public var cores: Int?
    /// Sockets, 1…255.
    public var sockets: Int?
    /// Memory in MiB, at least 1.
    public var memory: Int?
    /// USB host controller.
    public var usb: USBController?
    /// Network interface controller.
    public var network: NetworkDevice?
    /// MAC address: lowercase `xx:xx:xx:xx:xx:xx`, locally administered and unicast.
    public var mac: String?
    /// Block device for the disk.
    public var storage: StorageDevice?
    /// Graphics adapter.
    public var graphics: GraphicsDevice?
    /// VGA memory (QEMU `vgamem`) in MB, at least 1.
    public var vgaMemory: Int?
    /// `qxl-vga` RAM in MB, at least 1 (JSON `graphicsRam`).
    public var graphicsRAM: Int?
    /// `qxl-vga` video RAM in MB, at least 1 (JSON `graphicsVRam`).
    public var graphicsVRAM: Int?
    /// Sound device.
    public var sound: SoundDevice?
    /// Keyboard device.
    public var keyboard: KeyboardDevice?
    /// Keyboard layout.
    public var keyboardLayout: KeyboardLayout?
    /// Mouse device.
    public var mouse: MouseDevice?
    /// Tablet device.
    public var tablet: TabletDevice?

    /// A machine with every field unset (encodes as `{"version":1}`).
    public init() {}

    /// A machine with the given fields set and the rest unset.
    public init(
        uuid: String? = nil, chipset: Chipset? = nil, cpu: CPU? = nil, flags: [String]? = nil,
        threads: Int? = nil, cores: Int? = nil, sockets: Int? = nil, memory: Int? = nil,
        usb: USBController? = nil, network: NetworkDevice? = nil, mac: String? = nil,
        storage: StorageDevice? = nil, graphics: GraphicsDevice? = nil, vgaMemory: Int? = nil,
        graphicsRAM: Int? = nil, graphicsVRAM: Int? = nil, sound: SoundDevice? = nil,
        keyboard: KeyboardDevice? = nil, keyboardLayout: KeyboardLayout? = nil,
        mouse: MouseDevice? = nil, tablet: TabletDevice? = nil
    ) {
        self.uuid = uuid
        self.chipset = chipset
        self.cpu = cpu
        self.flags = flags
        self.threads = threads
        self.cores = cores
        self.sockets = sockets
        self.memory = memory
        self.usb = usb
        self.network = network
        self.mac = mac
        self.storage = storage
        self.graphics = graphics
        self.vgaMemory = vgaMemory
        self.graphicsRAM = graphicsRAM
        self.graphicsVRAM = graphicsVRAM
        self.sound = sound
        self.keyboard = keyboard
        self.keyboardLayout = keyboardLayout
        self.mouse = mouse
        self.tablet = tablet
    }

    /// The original's default machine: what a host fills unset fields with.
    ///
    /// Memory and the CPU topology stay unset: they come from the host's limits.
    public static let defaults = Machine(
        uuid: "52bab607-10f1-4049-a0f8-ee4725cb715b", chipset: .pcI440FX28, cpu: .host, flags: [],
        usb: .necXHCI, network: .e1000, mac: "aa:54:1a:30:5c:de", storage: .virtioBlockPCI,
        graphics: .qxlVGA, vgaMemory: 16, graphicsRAM: 64, graphicsVRAM: 32, sound: Machine.SoundDevice.none,
        keyboard: .usb, keyboardLayout: .enUS, mouse: .usb, tablet: .usb
    )

    /// This machine with every unset field taken from `defaults`; set fields are kept.
    public func withDefaults(_ defaults: Machine) -> Machine {
        var result = self
        result.uuid = uuid ?? defaults.uuid
        result.chipset = chipset ?? defaults.chipset
        result.cpu = cpu ?? defaults.cpu
        result.flags = flags ?? defaults.flags
        result.threads = threads ?? defaults.threads
        result.cores = cores ?? defaults.cores
        result.sockets = sockets ?? defaults.sockets
        result.memory = memory ?? defaults.memory
        result.usb = usb ?? defaults.usb
        result.network = network ?? defaults.network
        result.mac = mac ?? defaults.mac
        result.storage = storage ?? defaults.storage
        result.graphics = graphics ?? defaults.graphics
        result.vgaMemory = vgaMemory ?? defaults.vgaMemory
        result.graphicsRAM = graphicsRAM ?? defaults.graphicsRAM
        result.graphicsVRAM = graphicsVRAM ?? defaults.graphicsVRAM
        result.sound = sound ?? defaults.sound
        result.keyboard = keyboard ?? defaults.keyboard
        result.keyboardLayout = keyboardLayout ?? defaults.keyboardLayout
        result.mouse = mouse ?? defaults.mouse
        result.tablet = tablet ?? defaults.tablet
        return result
    }

    /// Every way this value breaks the schema (patterns, ranges, flags); empty when valid.
    public var validationIssues: [MachineIssue] {
        var parser = MachineParser()
        _ = parser.parseVersion1(jsonObject)
        return parser.issues
    }
}
