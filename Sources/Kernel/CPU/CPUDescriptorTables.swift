import CArch

/// One CPU's GDT and 64-bit TSS (SDM 3A §3.4.5 segment descriptors, §8.7 TSS).
/// GDT: null, 64-bit code (0x08), data (0x10), TSS (0x18, a 16-byte system descriptor).
/// The TSS's IST 1-3 give the double fault, NMI and machine check handlers their own stacks.
struct CPUDescriptorTables {
  static let codeSelector: UInt16 = 0x08
  static let dataSelector: UInt16 = 0x10
  static let taskSelector: UInt16 = 0x18
  static let interruptStackSize = 16 * 1024

  private let gdt: UnsafeMutablePointer<UInt64>
  private let tss: UnsafeMutableRawPointer

  init() {
    gdt = UnsafeMutablePointer<UInt64>.allocate(capacity: 5)
    tss = UnsafeMutableRawPointer.allocate(byteCount: 104, alignment: 16)
    tss.initializeMemory(as: UInt8.self, repeating: 0, count: 104)
    for index in 1...3 {
      let stack = UnsafeMutableRawPointer.allocate(
        byteCount: Self.interruptStackSize, alignment: 16)
      let top = UInt64(UInt(bitPattern: stack)) + UInt64(Self.interruptStackSize)
      KernelLayout.extraStacks.append((top - UInt64(Self.interruptStackSize), top))
      tss.storeBytes(of: top, toByteOffset: 0x24 + (index - 1) * 8, as: UInt64.self)  // IST1..3
    }
    tss.storeBytes(of: UInt16(104), toByteOffset: 0x66, as: UInt16.self)  // I/O map base: none

    let base = UInt64(UInt(bitPattern: tss))
    let limit: UInt64 = 103
    gdt[0] = 0
    gdt[1] = 0x00AF_9A00_0000_FFFF  // code: P, DPL 0, L = 1
    gdt[2] = 0x00CF_9200_0000_FFFF  // data: P, DPL 0, writable
    // Available 64-bit TSS, type 9, P = 1.
    gdt[3] =
      (limit & 0xFFFF) | (base & 0xFF_FFFF) << 16 | UInt64(0x89) << 40
      | ((limit >> 16) & 0xF) << 48 | ((base >> 24) & 0xFF) << 56
    gdt[4] = base >> 32
  }

  var gdtBase: UInt64 { UInt64(UInt(bitPattern: gdt)) }
  var tssBase: UInt64 { UInt64(UInt(bitPattern: tss)) }

  func load() {
    arch_load_gdt(gdtBase, 5 * 8 - 1, Self.codeSelector, Self.dataSelector)
    arch_ltr(Self.taskSelector)
  }
}
