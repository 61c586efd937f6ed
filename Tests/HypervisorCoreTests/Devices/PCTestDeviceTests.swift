import HypervisorCore
import XCTest

/// Records the line levels a device drives.
private final class RecordedInputs: InterruptInputs {
  var changes: [(line: Int, high: Bool)] = []
  func setLevel(line: Int, high: Bool) { changes.append((line, high)) }
}

final class PCTestDeviceTests: XCTestCase {
  /// x86/realmode.c's I/O test: a byte, word and dword written to 0xE0 read back.
  func testTheDataRegisterKeepsEachLaneOfAWrite() {
    let device = PCTestDevice(inputs: nil)
    _ = device.write(port: 0xE0, size: 4, value: 0x1122_3344)
    XCTAssertEqual(device.read(port: 0xE0, size: 4), 0x1122_3344)
    _ = device.write(port: 0xE0, size: 1, value: 0xAB)
    XCTAssertEqual(device.read(port: 0xE0, size: 4), 0x1122_33AB, "only lane 0 changes")
    _ = device.write(port: 0xE2, size: 2, value: 0x9999)
    XCTAssertEqual(device.read(port: 0xE0, size: 4), 0x9999_33AB)
    XCTAssertEqual(device.read(port: 0xE3, size: 1), 0x99)
    XCTAssertEqual(device.read(port: 0xE1, size: 2), 0x9933)
    _ = device.write(port: 0xE3, size: 4, value: 0xFFFF_FF01)
    XCTAssertEqual(device.read(port: 0xE0, size: 4), 0x0199_33AB, "lanes past 0xE3 drop")
  }

  /// lib/x86/apic.c set_irq_line: port 0x2000 + line, level in AL; only changes are driven.
  func testLinePortsDriveLevelChanges() {
    let inputs = RecordedInputs()
    let device = PCTestDevice(inputs: inputs)
    _ = device.write(port: 0x200E, size: 1, value: 1)
    _ = device.write(port: 0x200E, size: 1, value: 1)
    _ = device.write(port: 0x200E, size: 1, value: 0)
    _ = device.write(port: 0x2017, size: 4, value: 0x100)  // AL = 0: low, already low
    XCTAssertEqual(inputs.changes.map { $0.line }, [14, 14])
    XCTAssertEqual(inputs.changes.map { $0.high }, [true, false])
    _ = device.write(port: 0x2000, size: 1, value: 5)
    XCTAssertEqual(device.read(port: 0x2000, size: 1), 1)
    XCTAssertEqual(device.lineLevels, 1)
  }

  /// I/O RAM: any width and alignment, little endian; accesses past its end are cut.
  func testIORAMStoresBytesAndIgnoresAccessesPastItsEnd() {
    let ram = PCTestIORAM()
    _ = ram.write(offset: 4095, size: 2, value: 0x88AA)
    XCTAssertEqual(ram.read(offset: 4095, size: 1), 0xAA)
    XCTAssertEqual(ram.read(offset: 4096, size: 1), 0x88)
    XCTAssertEqual(ram.read(offset: 4094, size: 4), 0x0088_AA00)
    _ = ram.write(offset: 0xFFFE, size: 8, value: ~0)
    XCTAssertEqual(ram.read(offset: 0xFFFC, size: 8), 0xFFFF_0000)
    XCTAssertEqual(ram.read(offset: 0x1_0000, size: 8), 0, "beyond the window")
    XCTAssertEqual(ram.read(offset: UInt64.max, size: 8), 0, "no overflow")
  }

  /// Line 0 reaches I/O APIC pin 2 (the MADT override); line 14 reaches pin 14 and the
  /// slave 8259's IR6.
  func testPlatformInputsReachTheIOAPICAndThePIC() {
    let vcpus = vcpusWithAPICs(1, clock: NanosecondClock())
    let ioapic = IOAPICModel(id: 1, vcpus: vcpus)
    for (pin, vector) in [(2, 0x40), (14, 0x5E)] {
      _ = ioapic.write(offset: 0, size: 4, value: UInt64(0x10 + 2 * pin))
      _ = ioapic.write(offset: 0x10, size: 4, value: UInt64(vector))
    }
    let pic = PIC8259Pair.afterFirmware()
    let inputs = PlatformInterruptInputs(ioAPIC: ioapic, pic: pic)
    inputs.setLevel(line: 0, high: true)
    XCTAssertEqual(takePosted(vcpus[0]), 0x40)
    vcpus[0].localAPIC?.acknowledge(0x40)
    inputs.setLevel(line: 14, high: true)
    XCTAssertEqual(takePosted(vcpus[0]), 0x5E)
    XCTAssertEqual(pic.acknowledge(), 0x08, "IRQ 0 first: highest priority")
    XCTAssertNil(pic.pendingVector, "IRQ 0 in service holds the cascade back")
    _ = pic.write(port: 0x20, size: 1, value: 0x20)  // non-specific EOI
    XCTAssertEqual(pic.acknowledge(), 0x76, "then IRQ 14 through the cascade")
  }
}
