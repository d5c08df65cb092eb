import ArgumentParser
import QCOW2

extension ImageInspection.Format: ExpressibleByArgument {}

/// A command's help text for `--json`: the option is the same on every command, its words name
/// the command's own qemu-img counterpart.
protocol JSONWording {
    /// The help of `--json`.
    static var jsonHelp: String { get }
}

/// A command's help text for `-f, --format`.
protocol FormatWording {
    /// The help of `-f, --format`.
    static var formatHelp: String { get }
}

/// `--json` and `--output=json|human` (qemu-img's spelling of the same choice), shared by
/// `inspect`, `check` and `map`.
struct JSONOutputOptions<Wording: JSONWording>: ParsableArguments {
    /// `--output=json|human`, as qemu-img spells it.
    enum Output: String, ExpressibleByArgument {
        case json, human
    }

    @Flag(name: .long, help: ArgumentHelp(Wording.jsonHelp))
    var json = false

    @Option(help: "qemu-img's spelling: --output=json is --json.")
    var output: Output?

    /// Whether JSON was asked for, in either spelling.
    var isJSON: Bool { json || output == .json }
}

/// `-f, --format qcow2|raw`, shared by `inspect`, `check`, `map` and `convert`.
struct FormatOption<Wording: FormatWording>: ParsableArguments {
    @Option(name: [.customShort("f"), .customLong("format")], help: ArgumentHelp(Wording.formatHelp))
    var format: ImageInspection.Format?
}

/// `-q, --quiet`, shared by `package`, `extract` and `verify` (the two last through
/// ``ArchiveReadOptions``).
struct QuietOption: ParsableArguments {
    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false
}

/// `--max-size` and `-q, --quiet`, shared by `extract` and `verify`.
struct ArchiveReadOptions: ParsableArguments {
    @Option(name: .customLong("max-size"), help: "Largest archive, member and virtual size accepted, in GiB.")
    var maxSizeGiB: UInt64 = 50

    @OptionGroup var quietOption: QuietOption

    /// Whether `-q` was given.
    var quiet: Bool { quietOption.quiet }
}
