/// What a host allows a machine: the original `vm.MachineLimits`, used to fill a machine's
/// memory and CPU topology and to refuse machines that ask for more.
public struct MachineLimits: Sendable, Hashable {
    /// Most memory a machine may have, in MiB (also the memory of a machine that names none).
    public var maxMemory: Int
    /// Most virtual CPUs (`threads * cores * sockets`) a machine may have, 1…255.
    public var maxCPUs: Int
    /// Threads per core given to a machine that names none (2 with hyper-threading, else 1).
    public var defaultThreads: Int

    /// Limits of `maxMemory` MiB and `maxCPUs` CPUs, `defaultThreads` per core by default.
    public init(maxMemory: Int, maxCPUs: Int, defaultThreads: Int = 1) {
        self.maxMemory = maxMemory
        self.maxCPUs = maxCPUs
        self.defaultThreads = defaultThreads
    }
}

extension PayloadRule {
    /// A machine asks for more memory or CPUs than the host's ``MachineLimits`` allow.
    public static let machineLimits = PayloadRule(rawValue: "machine-limits")
}

extension Machine {
    /// This machine with memory and CPU topology filled from `limits`, as the original's
    /// `ApplyLimits`: unset memory becomes `maxMemory`; unset threads become `defaultThreads`
    /// when that fits; then unset cores, threads and sockets (in that order) grow while
    /// `threads * cores * sockets` stays within `maxCPUs`.
    ///
    /// - Throws: ``VMImageError/malformedPayload(member:rule:message:)`` with rule
    ///   ``PayloadRule/machineLimits`` when the memory or the CPU count exceeds the limits.
    public func applyingLimits(_ limits: MachineLimits, member: String = "machine.json") throws(VMImageError) -> Machine {
        var result = self
        if memory == nil, limits.maxMemory > 0 {
            result.memory = limits.maxMemory
        }
        var threads = self.threads ?? 1
        var cores = self.cores ?? 1
        var sockets = self.sockets ?? 1
        func fits(_ threads: Int, _ cores: Int, _ sockets: Int) -> Bool {
            let (partial, overflow1) = threads.multipliedReportingOverflow(by: cores)
            let (total, overflow2) = partial.multipliedReportingOverflow(by: sockets)
            return !overflow1 && !overflow2 && total <= limits.maxCPUs
        }
        if self.threads == nil, fits(limits.defaultThreads, cores, sockets) {
            threads = limits.defaultThreads
        }
        while self.cores == nil, cores < 255, fits(threads, cores + 1, sockets) { cores += 1 }
        while self.threads == nil, threads < 255, fits(threads + 1, cores, sockets) { threads += 1 }
        while self.sockets == nil, sockets < 255, fits(threads, cores, sockets + 1) { sockets += 1 }
        result.threads = threads
        result.cores = cores
        result.sockets = sockets

        if let memory = result.memory, memory > limits.maxMemory {
            throw .malformedPayload(
                member: member, rule: .machineLimits,
                message: "machine memory \(memory) MiB is larger than the allowed \(limits.maxMemory) MiB")
        }
        guard fits(threads, cores, sockets) else {
            let (partial, _) = threads.multipliedReportingOverflow(by: cores)
            let (total, _) = partial.multipliedReportingOverflow(by: sockets)
            throw .malformedPayload(
                member: member, rule: .machineLimits,
                message: "threads \(threads) × cores \(cores) × sockets \(sockets) = \(total) CPUs, more than the allowed \(limits.maxCPUs)")
        }
        return result
    }

    /// Limits that permit this machine, as the original's `DeriveOptions`: its own memory, and
    /// its CPU count (unset threads, cores, sockets counting 1) or `hostCPUs` when larger.
    public func derivedLimits(hostCPUs: Int) -> MachineLimits {
        let (partial, overflow1) = (threads ?? 1).multipliedReportingOverflow(by: cores ?? 1)
        let (count, overflow2) = partial.multipliedReportingOverflow(by: sockets ?? 1)
        let cpus = overflow1 || overflow2 ? Int.max : count
        return MachineLimits(maxMemory: memory ?? 0, maxCPUs: max(cpus, hostCPUs), defaultThreads: 1)
    }
}
