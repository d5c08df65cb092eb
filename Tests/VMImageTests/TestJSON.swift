@testable import VMImage

/// Decodes `text` as a machine definition, returning the error instead of throwing it.
func machineResult(_ text: String) -> Result<Machine, VMImageError> {
    do throws(VMImageError) {
        return .success(try Machine(json: Array(text.utf8)))
    } catch {
        return .failure(error)
    }
}

/// The fields named by an `invalidMachine` error, or `nil` for any other outcome.
func invalidFields(_ text: String) -> [String]? {
    guard case .failure(.invalidMachine(_, let issues)) = machineResult(text) else { return nil }
    return issues.map(\.field)
}

/// The original taskcluster-worker test fixture for a full version-1 definition.
let fullVersion1 = """
    {
        "version":         1,
        "uuid":            "52bab607-10f1-4049-a0f8-ee4725cb715b",
        "chipset":         "pc-i440fx-2.8",
        "cpu":             "host",
        "flags":           [],
        "usb":             "nec-usb-xhci",
        "network":         "e1000",
        "mac":             "aa:54:1a:30:5c:de",
        "storage":         "virtio-blk-pci",
        "graphics":        "qxl-vga",
        "vgaMemory":       16,
        "graphicsRam":     64,
        "graphicsVRam":    32,
        "sound":           "none",
        "keyboard":        "usb-kbd",
        "keyboardLayout":  "en-us",
        "mouse":           "usb-mouse",
        "tablet":          "usb-tablet"
    }
    """
