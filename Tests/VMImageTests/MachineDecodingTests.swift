import Testing
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import VMImage

@Suite("Machine decoding and validation")
struct MachineDecodingTests {
    @Test func decodesTheOriginalFullDefinition() throws {
        let machine = try machineResult(fullVersion1).get()
        #expect(machine == Machine.defaults)
        #expect(machine.graphics == .qxlVGA)
        #expect(machine.graphicsVRAM == 32)
        #expect(machine.flags == [])
        #expect(machine.memory == nil)
    }

    @Test func versionOneWithOnlyTheVersionIsValidAndEmpty() throws {
        #expect(try machineResult(#"{"version": 1}"#).get() == Machine())
    }

    @Test func listsEveryViolatedFieldNotOnlyTheFirst() {
        let text = """
            {"version": 1, "uuid": "52BAB607-10f1-4049-a0f8-ee4725cb715b", "chipset": "q35",
             "cpu": "max", "flags": ["sse4", 3], "threads": 0, "cores": 256, "sockets": 1.5,
             "memory": "4096", "usb": "ehci", "network": "virtio", "mac": "00:0d:4b:ec:d6:18",
             "storage": "ide", "graphics": "cirrus", "vgaMemory": 0, "graphicsRam": -1,
             "graphicsVRam": null, "sound": "sb16", "keyboard": "ps2", "keyboardLayout": "en",
             "mouse": "tablet", "tablet": "yes", "hostname": "x", "weird key": 1}
            """
        let fields = invalidFields(text)
        #expect(fields.map(Set.init) == [
            "uuid", "chipset", "cpu", "flags[0]", "flags[1]", "threads", "cores", "sockets", "memory",
            "usb", "network", "mac", "storage", "graphics", "vgaMemory", "graphicsRam", "graphicsVRam",
            "sound", "keyboard", "keyboardLayout", "mouse", "tablet", "hostname", "[\"weird key\"]",
        ])
    }

    @Test func issueMessagesQuoteValueAndRule() throws {
        guard case .failure(let error) = machineResult(#"{"version":1,"network":"virtio","threads":300}"#),
              case .invalidMachine(let member, let issues) = error else {
            Issue.record("expected invalidMachine")
            return
        }
        #expect(member == "machine.json")
        #expect(error.isMalformedPayload)
        let byField = Dictionary(uniqueKeysWithValues: issues.map { ($0.field, $0.message) })
        #expect(byField["network"] == #""virtio" is not one of "rtl8139", "e1000""#)
        #expect(byField["threads"] == "300 is larger than the maximum 255")
        #expect(error.description.contains("2 field(s) invalid"))
    }

    @Test func integersMayBeWrittenAsIntegralNumbers() throws {
        let machine = try machineResult(#"{"version":1,"threads":2.0,"memory":4e3}"#).get()
        #expect(machine.threads == 2)
        #expect(machine.memory == 4000)
        #expect(invalidFields(#"{"version":1,"threads":2.5}"#) == ["threads"])
        #expect(invalidFields(#"{"version":1,"memory":1e30}"#) == ["memory"])
        #expect(invalidFields(#"{"version":1,"memory":true}"#) == ["memory"])
    }

    @Test func flagsMustBeAnEmptyArray() throws {
        #expect(try machineResult(#"{"version":1,"flags":[]}"#).get().flags == [])
        #expect(try machineResult(#"{"version":1}"#).get().flags == nil)
        #expect(invalidFields(#"{"version":1,"flags":"sse"}"#) == ["flags"])
        #expect(invalidFields(#"{"version":1,"flags":["sse","avx"]}"#) == ["flags[0]", "flags[1]"])
    }

    @Test(arguments: [#"{"version":2}"#, #"{"version":"1"}"#, #"{"version":-1}"#, #"{"version":1.5}"#, #"{"version":null}"#])
    func unsupportedVersionsAreRejected(text: String) {
        #expect(invalidFields(text) == ["version"])
    }

    @Test func everyEnumOptionOfTheOriginalIsAccepted() throws {
        let sounds = ["none", "AC97", "ES1370", "hda-duplex/intel-hda", "hda-micro/intel-hda", "hda-output/intel-hda",
                      "hda-duplex/ich9-intel-hda", "hda-micro/ich9-intel-hda", "hda-output/ich9-intel-hda"]
        for sound in sounds {
            #expect(try machineResult(#"{"version":1,"sound":"\#(sound)"}"#).get().sound?.rawValue == sound)
        }
        let layouts = ["ar", "da", "de", "de-ch", "en-gb", "en-us", "es", "et", "fi", "fo", "fr", "fr-be", "fr-ca",
                       "fr-ch", "hr", "hu", "is", "it", "ja", "lt", "lv", "mk", "nl", "nl-be", "no", "pl", "pt",
                       "pt-br", "ru", "sl", "sv", "th", "tr"]
        #expect(Machine.KeyboardLayout.allCases.map(\.rawValue) == layouts)
        for graphics in ["VGA", "vmware-svga", "qxl-vga", "virtio-vga"] {
            #expect(try machineResult(#"{"version":1,"graphics":"\#(graphics)"}"#).get().graphics?.rawValue == graphics)
        }
        for usb in ["piix3-usb-uhci", "piix4-usb-uhci", "nec-usb-xhci"] {
            #expect(try machineResult(#"{"version":1,"usb":"\#(usb)"}"#).get().usb?.rawValue == usb)
        }
        let devices = try machineResult(#"{"version":1,"keyboard":"PS/2","mouse":"PS/2","tablet":"none","network":"rtl8139"}"#).get()
        #expect(devices.keyboard == .ps2 && devices.mouse == .ps2 && devices.tablet == Machine.TabletDevice.none)
        #expect(devices.network == .rtl8139)
    }

    @Test func uuidPatternIsTheOriginals() {
        #expect(invalidFields(#"{"version":1,"uuid":"52bab607-10f1-4049-a0f8-ee4725cb715b"}"#) == nil)
        for bad in ["52bab607-10f1-6049-a0f8-ee4725cb715b", "52bab607-10f1-4049-c0f8-ee4725cb715b",
                    "52bab607-10f1-4049-a0f8-ee4725cb715", "52bab607-10f1-4049-a0f8-ee4725cb715b0",
                    "52bab60710f14049a0f8ee4725cb715b", "52bab607-10f1-4049-a0f8-ee4725cb715g",
                    "52bab607-10f1-4049-a0f8-ee4725cb715b\n", ""] {
            #expect(invalidFields(#"{"version":1,"uuid":"\#(bad.replacingNewline())"}"#) == ["uuid"], "\(bad)")
        }
    }

    @Test func macPatternAcceptsTheOriginalsValidList() {
        let valid = ["ba:47:78:65:e1:a5", "ea:4d:fa:a4:18:ec", "0e:54:fb:3a:45:d0", "4a:56:d3:0d:b6:86",
                     "06:32:ba:a3:56:64", "02:3d:4b:b6:27:5e", "be:e5:91:b6:81:cf"]
        for mac in valid {
            #expect(Machine(mac: mac).validationIssues.isEmpty, "\(mac)")
        }
    }

    @Test func macPatternRejectsGlobalMulticastAndMalformed() {
        let invalid = ["00:0d:4b:ec:d6:18", "00:00:0a:40:ce:1f",  // vendor-assigned
                       "df:db:a9:30:67:a1", "ab:5f:73:24:76:9e", "f3:ba:9a:6b:75:d2",  // multicast / not local
                       "d:db:a9:30:67:a1", "1f:0e:b2:1d:8", "0f::06:2c:e8:03", "0b:be:tt:5e:ca:d9",
                       "ab:5fd:73:24:76:9e", "1e:0xe7:e9:00:f2:20", "", "--", "AA:54:1A:30:5C:DE",
                       "aa-54-1a-30-5c-de", "aa:54:1a:30:5c:de:00"]
        for mac in invalid {
            #expect(Machine(mac: mac).validationIssues.map(\.field) == ["mac"], "\(mac)")
        }
    }

    @Test func validationIssuesOfAValueBuiltInCode() {
        #expect(Machine.defaults.validationIssues.isEmpty)
        let bad = Machine(uuid: "nope", flags: ["x"], threads: 0, memory: -5, mac: "00:00:00:00:00:00")
        #expect(bad.validationIssues.map(\.field) == ["flags[0]", "mac", "memory", "threads", "uuid"])
    }
}

extension String {
    /// The string with a newline written as the JSON escape `\n`.
    func replacingNewline() -> String {
        var result = ""
        for character in self { result += character == "\n" ? "\\n" : String(character) }
        return result
    }
}
