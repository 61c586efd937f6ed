import CArch

/// The two 8259A PICs the BIOS leaves routing IRQ 0-15 to vectors 8-15 and 0x70-0x77,
/// which collide with exceptions (the PIT's IRQ 0 would arrive as a "double fault").
/// Peregrine uses only the local APIC: remap the PICs to 0x30-0x3F, then mask every line
/// (8259A data sheet: ICW1-ICW4, OCW1).
enum LegacyPIC {
  static let masterCommand: UInt16 = 0x20
  static let masterData: UInt16 = 0x21
  static let slaveCommand: UInt16 = 0xA0
  static let slaveData: UInt16 = 0xA1
  static let vectorBase: UInt8 = 0x30

  static func remapAndMask() {
    arch_outb(masterCommand, 0x11)  // ICW1: initialize, ICW4 follows
    arch_outb(slaveCommand, 0x11)
    arch_outb(masterData, vectorBase)  // ICW2: vector base
    arch_outb(slaveData, vectorBase + 8)
    arch_outb(masterData, 0x04)  // ICW3: slave on IRQ 2
    arch_outb(slaveData, 0x02)
    arch_outb(masterData, 0x01)  // ICW4: 8086 mode
    arch_outb(slaveData, 0x01)
    arch_outb(masterData, 0xFF)  // OCW1: mask everything
    arch_outb(slaveData, 0xFF)
  }
}
