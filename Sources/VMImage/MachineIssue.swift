/// One way a machine definition breaks the `machine.json` schema.
public struct MachineIssue: Sendable, Hashable, CustomStringConvertible {
    /// The offending field as a JSON path from the definition's root (`mac`, `flags[0]`,
    /// `network.device` for a version-0 definition); empty for the document as a whole (such
    /// as the closing "and N more issue(s) not listed" when more than 200 were found).
    public var field: String
    /// What is wrong with it, quoting the value found and the rule it breaks.
    public var message: String

    /// An issue with `field`.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    /// `field: message`.
    public var description: String {
        field.isEmpty ? message : "\(field): \(message)"
    }
}
