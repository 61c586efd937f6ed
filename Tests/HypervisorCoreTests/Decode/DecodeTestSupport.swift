import HypervisorCore

/// Instruction bytes from a hex string such as "48 8b 05 44 33 22 11", as disassemblers print
/// them, so the tests read like the listings they were taken from.
func instruction(_ hex: String) -> InstructionBytes {
  InstructionBytes(hex.split(separator: " ").map { UInt8($0, radix: 16)! })
}
