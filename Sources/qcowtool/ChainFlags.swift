import ArgumentParser
import QCOW2

/// `--trust-chain`: the one opt-in, shared by `inspect`, `check`, `map` and `convert`, that
/// follows a backing chain as qemu-img follows it (see ``ChainPolicy``).
struct ChainFlags: ParsableArguments {
    @Flag(name: .customLong("trust-chain"), help: """
        The backing chain is yours: follow absolute and relative names as qemu-img does and \
        probe a missing backing format. Symlinks, FIFOs, devices, json:/protocol names, loops \
        and chains deeper than 16 are still refused.
        """)
    var trustChain = false

    /// The chain policy these flags ask for.
    var policy: ChainPolicy { trustChain ? .trusted : .untrusted }
}
