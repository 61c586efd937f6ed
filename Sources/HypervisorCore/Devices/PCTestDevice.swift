/// QEMU's pc-testdev as kvm-unit-tests drives it (docs/kvm-unit-tests.md), attached only
/// when the profile says `testdev=on`:
///
/// - ports 0xE0–0xE3: one 32-bit data register; a write of any width stores its bytes in
///   their lanes, a read returns them (x86/emulator.c, x86/realmode.c I/O tests);
/// - ports 0x2000–0x2017: the level of ISA/GSI interrupt line N (port 0x2000 + N); a write
///   of a non-zero value raises the line, zero lowers it (lib/x86/apic.c `set_irq_line`);
/// - 4 KiB pages of "I/O RAM" at 0xFF00_0000, 64 KiB (lib/x86/ioram.h): plain bytes behind
///   MMIO exits, so the tests exercise the instruction emulator.
///
/// Line levels go to an `InterruptInputs` (the I/O APIC, and an 8259 pair when one exists).
public final class PCTestDevice: PortDevice {
  public static let dataPorts: ClosedRange<UInt16> = 0xE0...0xE3
  public static let linePorts: ClosedRange<UInt16> = 0x2000...0x2017
  public static let ioRAMBase: UInt64 = 0xFF00_0000
  public static let ioRAMSize: UInt64 = 0x1_0000

  public internal(set) var data: UInt32 = 0
  public internal(set) var lineLevels: UInt32 = 0
  public let ioRAM = PCTestIORAM()
  private let inputs: (any InterruptInputs)?

  public init(inputs: (any InterruptInputs)?) { self.inputs = inputs }

  public func read(port: UInt16, size: UInt8) -> UInt32 {
    guard Self.dataPorts.contains(port) else { return lineLevels >> (port &- 0x2000) & 1 }
    let shift = UInt32(port - Self.dataPorts.lowerBound) * 8
    return data >> shift & Self.laneMask(size)
  }

  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    if Self.dataPorts.contains(port) {
      // Lanes past 0xE3 of a wide access at 0xE1–0xE3 fall off the register, as on the bus.
      let shift = UInt32(port - Self.dataPorts.lowerBound) * 8
      let mask = Self.laneMask(size) << shift
      data = data & ~mask | (value << shift) & mask
    } else if Self.linePorts.contains(port) {
      let line = Int(port - Self.linePorts.lowerBound)
      let high = value & 0xFF != 0
      let bit: UInt32 = 1 << UInt32(line)
      guard (lineLevels & bit != 0) != high else { return .none }
      lineLevels = high ? lineLevels | bit : lineLevels & ~bit
      inputs?.setLevel(line: line, high: high)
    }
    return .none
  }

  static func laneMask(_ size: UInt8) -> UInt32 { size >= 4 ? ~0 : (1 << (UInt32(size) * 8)) - 1 }
}

/// The I/O RAM window of the pc-testdev: 64 KiB of bytes read and written at any width and
/// alignment (accesses that run past its end are cut at the end; reads there give zeros).
public final class PCTestIORAM: MMIODevice {
  var bytes = [UInt8](repeating: 0, count: Int(PCTestDevice.ioRAMSize))

  public init() {}

  public func read(offset: UInt64, size: UInt8) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<Self.inside(offset, size) {
      value |= UInt64(bytes[Int(offset + index)]) << (index * 8)
    }
    return value
  }

  public func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    for index in 0..<Self.inside(offset, size) {
      bytes[Int(offset + index)] = UInt8(truncatingIfNeeded: value >> (index * 8))
    }
    return .none
  }

  /// How many of the access's bytes (at most 8) lie inside the window.
  static func inside(_ offset: UInt64, _ size: UInt8) -> UInt64 {
    guard offset < PCTestDevice.ioRAMSize else { return 0 }
    return min(UInt64(min(size, 8)), PCTestDevice.ioRAMSize - offset)
  }
}

/// Interrupt controller inputs driven by level: ISA line N (0–15) and GSI N.
public protocol InterruptInputs: AnyObject {
  func setLevel(line: Int, high: Bool)
}

/// The platform's interrupt inputs as a board wires them: ISA line N goes to the 8259 pair
/// (lines 0–15) and to I/O APIC pin N, except line 0 (the PIT), which the MADT's interrupt
/// source override puts on pin 2 (ACPI §5.2.12.5).
public final class PlatformInterruptInputs: InterruptInputs {
  private let ioAPIC: IOAPICModel?
  private let pic: PIC8259Pair?

  public init(ioAPIC: IOAPICModel?, pic: PIC8259Pair?) {
    self.ioAPIC = ioAPIC
    self.pic = pic
  }

  public func setLevel(line: Int, high: Bool) {
    guard line >= 0 && line < IOAPICModel.pinCount else { return }
    if line < 16 { pic?.setLevel(line: line, high: high) }
    ioAPIC?.setLevel(pin: line == 0 ? 2 : line, high: high)
  }
}
