// The closed sets of hardware a machine definition may name (the enums of the `machine.json`
// schema, version 1). Raw values are the exact strings of the JSON format.

extension Machine {
    /// The emulated chipset (`chipset`).
    public enum Chipset: String, Sendable, Hashable, CaseIterable, Codable {
        /// QEMU's `pc-i440fx-2.8` machine type.
        case pcI440FX28 = "pc-i440fx-2.8"
    }

    /// The CPU model exposed to the guest (`cpu`); the guest has `threads * cores * sockets` CPUs.
    public enum CPU: String, Sendable, Hashable, CaseIterable, Codable {
        /// Pass the host's CPU model through.
        case host
    }

    /// The USB host controller interface (`usb`).
    public enum USBController: String, Sendable, Hashable, CaseIterable, Codable {
        /// PIIX3 UHCI (USB 1.1).
        case piix3UHCI = "piix3-usb-uhci"
        /// PIIX4 UHCI (USB 1.1).
        case piix4UHCI = "piix4-usb-uhci"
        /// NEC xHCI (USB 3).
        case necXHCI = "nec-usb-xhci"
    }

    /// The network interface controller (`network`).
    public enum NetworkDevice: String, Sendable, Hashable, CaseIterable, Codable {
        /// Realtek RTL8139.
        case rtl8139
        /// Intel e1000.
        case e1000
    }

    /// The block device that attaches the disk (`storage`).
    public enum StorageDevice: String, Sendable, Hashable, CaseIterable, Codable {
        /// virtio block device on PCI.
        case virtioBlockPCI = "virtio-blk-pci"
    }

    /// The graphics adapter (`graphics`).
    public enum GraphicsDevice: String, Sendable, Hashable, CaseIterable, Codable {
        /// Standard VGA.
        case vga = "VGA"
        /// VMware SVGA.
        case vmwareSVGA = "vmware-svga"
        /// QXL with VGA compatibility.
        case qxlVGA = "qxl-vga"
        /// virtio GPU with VGA compatibility.
        case virtioVGA = "virtio-vga"
    }

    /// The sound device (`sound`); HDA codecs name their controller after a `/`.
    public enum SoundDevice: String, Sendable, Hashable, CaseIterable, Codable {
        /// No sound device.
        case none
        /// Intel AC97.
        case ac97 = "AC97"
        /// Ensoniq ES1370.
        case es1370 = "ES1370"
        /// HDA duplex codec on an Intel HDA controller.
        case hdaDuplexIntelHDA = "hda-duplex/intel-hda"
        /// HDA micro codec on an Intel HDA controller.
        case hdaMicroIntelHDA = "hda-micro/intel-hda"
        /// HDA output codec on an Intel HDA controller.
        case hdaOutputIntelHDA = "hda-output/intel-hda"
        /// HDA duplex codec on an ICH9 Intel HDA controller.
        case hdaDuplexICH9IntelHDA = "hda-duplex/ich9-intel-hda"
        /// HDA micro codec on an ICH9 Intel HDA controller.
        case hdaMicroICH9IntelHDA = "hda-micro/ich9-intel-hda"
        /// HDA output codec on an ICH9 Intel HDA controller.
        case hdaOutputICH9IntelHDA = "hda-output/ich9-intel-hda"
    }

    /// The keyboard device (`keyboard`).
    public enum KeyboardDevice: String, Sendable, Hashable, CaseIterable, Codable {
        /// USB keyboard.
        case usb = "usb-kbd"
        /// PS/2 keyboard.
        case ps2 = "PS/2"
    }

    /// The pointing device (`mouse`).
    public enum MouseDevice: String, Sendable, Hashable, CaseIterable, Codable {
        /// USB mouse.
        case usb = "usb-mouse"
        /// PS/2 mouse.
        case ps2 = "PS/2"
    }

    /// The absolute pointing device (`tablet`).
    public enum TabletDevice: String, Sendable, Hashable, CaseIterable, Codable {
        /// USB tablet.
        case usb = "usb-tablet"
        /// No tablet.
        case none
    }

    /// The keyboard layout given to QEMU's `-k` (`keyboardLayout`).
    public enum KeyboardLayout: String, Sendable, Hashable, CaseIterable, Codable {
        /// Arabic.
        case ar
        /// Danish.
        case da
        /// German.
        case de
        /// Swiss German.
        case deCH = "de-ch"
        /// British English.
        case enGB = "en-gb"
        /// US English.
        case enUS = "en-us"
        /// Spanish.
        case es
        /// Estonian.
        case et
        /// Finnish.
        case fi
        /// Faroese.
        case fo
        /// French.
        case fr
        /// Belgian French.
        case frBE = "fr-be"
        /// Canadian French.
        case frCA = "fr-ca"
        /// Swiss French.
        case frCH = "fr-ch"
        /// Croatian.
        case hr
        /// Hungarian.
        case hu
        /// Icelandic.
        case `is`
        /// Italian.
        case it
        /// Japanese.
        case ja
        /// Lithuanian.
        case lt
        /// Latvian.
        case lv
        /// Macedonian.
        case mk
        /// Dutch.
        case nl
        /// Belgian Dutch.
        case nlBE = "nl-be"
        /// Norwegian.
        case no
        /// Polish.
        case pl
        /// Portuguese.
        case pt
        /// Brazilian Portuguese.
        case ptBR = "pt-br"
        /// Russian.
        case ru
        /// Slovenian.
        case sl
        /// Swedish.
        case sv
        /// Thai.
        case th
        /// Turkish.
        case tr
    }
}
