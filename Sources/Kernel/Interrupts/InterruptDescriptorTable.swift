import CArch

/// The IDT: 256 interrupt gates (SDM 3A §6.14.1, 16 bytes each) pointing at the NASM stubs
/// in boot/interrupt_stubs.asm. Double fault, NMI and machine check run on their own
/// interrupt stack (IST) so a kernel stack overflow still reports instead of resetting.
struct InterruptDescriptorTable {
  static let entries = 256
  private var storage: UnsafeMutablePointer<UInt64>

  init() {
    storage = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.entries * 2)
    storage.initialize(repeating: 0, count: Self.entries * 2)
  }

  mutating func installStubs(codeSelector: UInt16) {
    for vector in 0..<Self.entries {
      let stack: UInt8
      switch vector {
      case ExceptionVector.doubleFault: stack = 1
      case ExceptionVector.nonMaskableInterrupt: stack = 2
      case ExceptionVector.machineCheck: stack = 3
      default: stack = 0
      }
      set(
        vector: vector, handler: linker_trap_stub(Int32(vector)), selector: codeSelector,
        interruptStack: stack)
    }
  }

  /// Gate layout: offset 15:0, selector, IST (bits 2:0 of byte 4), type 0xE (64-bit
  /// interrupt gate) with P = 1 and DPL 0, offset 31:16, offset 63:32.
  private mutating func set(vector: Int, handler: UInt64, selector: UInt16, interruptStack: UInt8) {
    let low =
      (handler & 0xFFFF) | UInt64(selector) << 16 | UInt64(interruptStack & 7) << 32
      | UInt64(0x8E) << 40 | ((handler >> 16) & 0xFFFF) << 48
    storage[vector * 2] = low
    storage[vector * 2 + 1] = handler >> 32
  }

  var base: UInt64 { UInt64(UInt(bitPattern: storage)) }

  func load() {
    arch_lidt(UInt64(UInt(bitPattern: storage)), UInt16(Self.entries * 16 - 1))
  }
}
