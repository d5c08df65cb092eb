import Testing
@testable import VMImage

@Suite("Machine limits")
struct MachineLimitsTests {
    @Test func unsetMemoryAndTopologyComeFromTheLimits() throws {
        let machine = try Machine().applyingLimits(MachineLimits(maxMemory: 4096, maxCPUs: 8, defaultThreads: 2))
        #expect(machine.memory == 4096)
        #expect(machine.threads == 2 && machine.cores == 4 && machine.sockets == 1)
    }

    @Test func singleThreadedHostsGetAllCoresInOneSocket() throws {
        let machine = try Machine().applyingLimits(MachineLimits(maxMemory: 1024, maxCPUs: 6))
        #expect(machine.threads == 1 && machine.cores == 6 && machine.sockets == 1)
    }

    @Test func setFieldsAreKeptAndOthersGrowAroundThem() throws {
        let machine = try Machine(cores: 2, memory: 512).applyingLimits(MachineLimits(maxMemory: 1024, maxCPUs: 8))
        #expect(machine.memory == 512 && machine.cores == 2)
        #expect(machine.threads == 4 && machine.sockets == 1, "threads grow before sockets")
        let sockets = try Machine(threads: 1, cores: 2).applyingLimits(MachineLimits(maxMemory: 1, maxCPUs: 8))
        #expect(sockets.sockets == 4)
    }

    @Test func tooMuchMemoryOrTooManyCPUsIsMalformed() {
        let limits = MachineLimits(maxMemory: 1024, maxCPUs: 4)
        #expect {
            try Machine(memory: 2048).applyingLimits(limits)
        } throws: { error in
            guard case VMImageError.malformedPayload(_, let rule, let message) = error else { return false }
            return rule == .machineLimits && message.contains("2048 MiB") && message.contains("1024 MiB")
        }
        #expect {
            try Machine(threads: 2, cores: 2, sockets: 2).applyingLimits(limits)
        } throws: { error in
            guard case VMImageError.malformedPayload(_, let rule, let message) = error else { return false }
            return rule == .machineLimits && message.contains("= 8 CPUs")
        }
        #expect(throws: VMImageError.self) { try Machine(threads: .max, cores: .max).applyingLimits(limits) }
    }

    @Test func derivedLimitsPermitTheMachine() throws {
        let machine = Machine(threads: 2, cores: 3, memory: 2048)
        let limits = machine.derivedLimits(hostCPUs: 2)
        #expect(limits == MachineLimits(maxMemory: 2048, maxCPUs: 6, defaultThreads: 1))
        #expect(try machine.applyingLimits(limits).sockets == 1)
        #expect(Machine().derivedLimits(hostCPUs: 16).maxCPUs == 16)
    }
}
