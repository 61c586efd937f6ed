import HypervisorCore
import XCTest

final class IOAPICModelTests: XCTestCase {
  private let clock = NanosecondClock()

  private func select(_ ioapic: IOAPICModel, _ register: UInt32, write value: UInt32? = nil)
    -> UInt32
  {
    _ = ioapic.write(offset: 0, size: 4, value: UInt64(register))
    if let value { _ = ioapic.write(offset: 0x10, size: 4, value: UInt64(value)) }
    return UInt32(truncatingIfNeeded: ioapic.read(offset: 0x10, size: 4))
  }

  func testVersionAndMaskedEntriesAtReset() {
    let ioapic = IOAPICModel(id: 1, localAPICs: [])
    XCTAssertEqual(select(ioapic, 0x01) >> 16, 23, "24 redirection entries")
    XCTAssertEqual(select(ioapic, 0x00) >> 24, 1)
    XCTAssertEqual(select(ioapic, 0x10 + 2 * 4) & (1 << 16), 1 << 16, "masked")
  }

  func testAnUnmaskedPinDeliversItsVectorToTheNamedAPIC() {
    let apics = [LocalAPICModel(id: 0, clock: clock), LocalAPICModel(id: 1, clock: clock)]
    for apic in apics { _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF) }
    let ioapic = IOAPICModel(id: 2, localAPICs: apics)
    _ = select(ioapic, 0x10 + 2 * 4 + 1, write: 1 << 24)  // destination APIC 1
    _ = select(ioapic, 0x10 + 2 * 4, write: 0x24)  // vector 0x24, fixed, physical, edge
    ioapic.raise(pin: 4)
    XCTAssertNil(apics[0].pendingVector)
    XCTAssertEqual(apics[1].pendingVector, 0x24)
  }

  func testMaskedPinDeliversNothing() {
    let apic = LocalAPICModel(id: 0, clock: clock)
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)
    let ioapic = IOAPICModel(id: 1, localAPICs: [apic])
    _ = select(ioapic, 0x10 + 2 * 3, write: 1 << 16 | 0x30)
    ioapic.raise(pin: 3)
    XCTAssertNil(apic.pendingVector)
  }
}

final class UARTInterruptTests: XCTestCase {
  final class Sink: ConsoleSink {
    var bytes: [UInt8] = []
    func write(_ byte: UInt8, from vmName: [UInt8]) { bytes.append(byte) }
  }

  /// What Linux's 8250 driver checks at startup: enabling the transmitter-empty interrupt
  /// with THR empty makes IIR report it, once.
  func testTransmitterEmptyInterruptAsThe8250DriverSeesIt() {
    let clock = NanosecondClock()
    let apic = LocalAPICModel(id: 0, clock: clock)
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)
    let ioapic = IOAPICModel(id: 1, localAPICs: [apic])
    _ = ioapic.write(offset: 0, size: 4, value: 0x10 + 8)
    _ = ioapic.write(offset: 0x10, size: 4, value: 0x34)  // pin 4 -> vector 0x34
    let uart = UART16550(sink: Sink(), vmName: Array("vm".utf8))
    uart.interruptLine = InterruptLine(controller: ioapic, pin: 4)
    _ = uart.write(port: 0x3FC, size: 1, value: 0x08)  // MCR.OUT2: IRQ line enabled
    XCTAssertEqual(uart.read(port: 0x3FA, size: 1) & 0x0F, 0x01, "nothing pending yet")
    _ = uart.write(port: 0x3F9, size: 1, value: 0x02)  // IER: ETBEI
    XCTAssertEqual(uart.read(port: 0x3FA, size: 1) & 0x0F, 0x02, "THR empty pending")
    XCTAssertEqual(uart.read(port: 0x3FA, size: 1) & 0x0F, 0x01, "reading IIR cleared it")
    XCTAssertEqual(apic.pendingVector, 0x34)
    _ = uart.write(port: 0x3F8, size: 1, value: 0x41)
    XCTAssertEqual(uart.read(port: 0x3FA, size: 1) & 0x0F, 0x02, "empty again after a byte")
  }
}
