import Testing
@testable import VMImage

@Suite("Machine encoding, defaults and migration")
struct MachineEncodingTests {
    @Test func encodingAlwaysWritesVersionAndOmitsUnsetFields() throws {
        #expect(String(decoding: try Machine().jsonBytes(), as: UTF8.self) == #"{"version":1}"#)
        let machine = Machine(flags: [], memory: 2048, graphicsRAM: 64, sound: Machine.SoundDevice.hdaDuplexIntelHDA)
        #expect(String(decoding: try machine.jsonBytes(), as: UTF8.self)
            == #"{"flags":[],"graphicsRam":64,"memory":2048,"sound":"hda-duplex/intel-hda","version":1}"#)
    }

    @Test func encodingRoundTrips() throws {
        for machine in [Machine(), Machine.defaults, Machine(threads: 2, cores: 4, sockets: 1, memory: 8192)] {
            #expect(try Machine(json: machine.jsonBytes()) == machine)
            #expect(try Machine(json: machine.jsonBytes(pretty: true)) == machine)
        }
    }

    @Test func withDefaultsFillsOnlyUnsetFields() throws {
        // The original's TestMachineWithDefaults.
        let machine = try Machine(json: Array(#"{"version":1,"graphics":"VGA"}"#.utf8))
        #expect(machine.graphics == .vga && machine.memory == nil && machine.usb == nil)
        let filled = machine.withDefaults(.defaults)
        #expect(filled.graphics == .vga)
        #expect(filled.memory == nil)
        #expect(filled.usb == .necXHCI)
        #expect(filled.uuid == "52bab607-10f1-4049-a0f8-ee4725cb715b")
        #expect(filled.flags == [])
        #expect(machine.usb == nil, "the receiver is a value and stays unchanged")
        #expect(Machine().withDefaults(.defaults) == .defaults)
        #expect(Machine.defaults.withDefaults(Machine(memory: 1)).memory == 1)
    }

    @Test func migratesTheOriginalVersionZeroDefinition() throws {
        let machine = try Machine(json: Array("""
            {"uuid": "52bab607-10f1-4049-a0f8-ee4725cb715b",
             "network": {"device": "rtl8139", "mac": "aa:54:1a:30:5c:de"},
             "keyboard": {"layout": "en-us"}}
            """.utf8))
        #expect(machine == Machine(
            uuid: "52bab607-10f1-4049-a0f8-ee4725cb715b", chipset: .pcI440FX28, cpu: .host, flags: [], threads: 1,
            usb: .necXHCI, network: .e1000, mac: "aa:54:1a:30:5c:de", storage: .virtioBlockPCI, graphics: .vmwareSVGA,
            sound: Machine.SoundDevice.none, keyboard: .usb, keyboardLayout: .enUS, mouse: .usb, tablet: Machine.TabletDevice.none))
    }

    @Test func migrationCarriesCPUMemoryAndSound() throws {
        let base = #""uuid":"52bab607-10f1-4049-a0f8-ee4725cb715b","network":{"mac":"aa:54:1a:30:5c:de"},"keyboard":{"layout":"de"}"#
        let machine = try Machine(json: Array("""
            {\(base), "memory": 4096, "cpu": {"threads": 2, "cores": 4, "sockets": 0},
             "sound": {"device": "hda-duplex", "controller": "ich9-intel-hda"}, "ignored": true}
            """.utf8))
        #expect(machine.memory == 4096 && machine.threads == 2 && machine.cores == 4 && machine.sockets == nil)
        #expect(machine.sound == .hdaDuplexICH9IntelHDA && machine.keyboardLayout == .de)
        let pci = try Machine(json: Array(#"{\#(base),"sound":{"device":"AC97","controller":"pci"}}"#.utf8))
        #expect(pci.sound == .ac97)
        #expect(try Machine(json: Array(#"{"version":0,\#(base)}"#.utf8)).graphics == .vmwareSVGA)
    }

    @Test func versionZeroWithWrongShapesListsEachField() {
        // The original's TestMigrateFromInvalid: `network` must be an object in version 0.
        #expect(invalidFields(#"{"uuid":"52bab607-10f1-4049-a0f8-ee4725cb715b","network":"e1000","keyboard":{"layout":"en-us"}}"#)
            == ["network"])
        #expect(invalidFields(#"{"memory":1.5,"cpu":{"threads":"2"},"keyboard":[],"sound":{"device":1}}"#)
            == ["memory", "cpu.threads", "keyboard", "sound.device"])
    }

    @Test func versionZeroMissingRequiredValuesFailsTheVersionOneSchema() {
        #expect(invalidFields(#"{"network":{"device":"e1000"}}"#) == ["keyboardLayout", "mac", "uuid"])
        #expect(invalidFields(#"{"uuid":"52bab607-10f1-4049-a0f8-ee4725cb715b","network":{"mac":"aa:54:1a:30:5c:de"},"keyboard":{"layout":"en-us"},"sound":{"device":"sb16","controller":"isa"}}"#)
            == ["sound"])
    }
}
