import QCOW2

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses the plain `qcowtool inspect` (or `info`) command lines without ArgumentParser.
///
/// Inspecting one image takes well under a millisecond; what a whole `qcowtool inspect` process
/// spends is start-up, and building ArgumentParser's command tree is the largest part of it
/// (naming each command type makes the runtime scan every protocol conformance in the binary).
/// So a command line made only of what README documents (`--json`, `--output json|human`,
/// `-f`/`--format qcow2|raw`, `--strict`, `--backing-chain`, `--trust-chain`, each at most once, in either
/// spelling `--opt value` or `--opt=value` where ArgumentParser takes it, and at least one file
/// not starting with `-`) is parsed here. Anything else (help, an unknown or repeated option,
/// a bad value, no file, `--`, an empty argument) returns `nil` and goes to ArgumentParser,
/// so every error message and every other command stays exactly as it says.
enum InspectFastPath {
    /// The job `arguments` (the command line without the program name) ask for, or `nil` when
    /// ArgumentParser must handle them.
    static func job(for arguments: ArraySlice<String>) -> InspectJob? {
        var rest = arguments
        guard let command = rest.popFirst(), command == "inspect" || command == "info" else { return nil }
        var job = InspectJob(json: false, format: nil, strict: false, backingChain: false, policy: .untrusted, files: [])
        var seen: [String] = []  // (not a Set: one generic type fewer to instantiate at start-up)
        while let argument = rest.popFirst() {
            guard !argument.isEmpty else { return nil }
            guard argument.hasPrefix("-") else {
                job.files.append(argument)
                continue
            }
            // `--name=value` (long options only), else the name alone.
            var name = argument
            var attached: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                attached = String(argument[argument.index(after: equals)...])
            }
            let option = name == "-f" ? "--format" : name
            guard !seen.contains(option) else { return nil }
            seen.append(option)
            switch option {
            case "--json", "--strict", "--backing-chain", "--trust-chain":
                guard attached == nil else { return nil }
                switch option {
                case "--json": job.json = true
                case "--strict": job.strict = true
                case "--trust-chain": job.policy = .trusted
                default: job.backingChain = true
                }
            case "--output", "--format":
                guard let value = attached ?? rest.popFirst(), !value.isEmpty, !value.hasPrefix("-") else { return nil }
                if option == "--output" {
                    guard value == "json" || value == "human" else { return nil }
                    // `--output=json` is `--json`; `--output=human` changes nothing.
                    if value == "json" { job.json = true }
                } else {
                    guard let format = ImageInspection.Format(rawValue: value) else { return nil }
                    job.format = format
                }
            default:
                return nil
            }
        }
        return job.files.isEmpty ? nil : job
    }

    /// Runs `job` and exits with its status, as ArgumentParser would after `InspectCommand.run()`
    /// (which prints nothing for the exit code it throws).
    static func run(_ job: InspectJob) -> Never {
        exit(job.run())
    }
}
