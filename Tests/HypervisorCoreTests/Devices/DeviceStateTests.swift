import XCTest

@testable import HypervisorCore

/// A clock at any rate, starting anywhere: another host's TSC.
final class RateClock: GuestClock {
  var now: UInt64
  let ticksPerSecond: UInt64

  init(now: UInt64, ticksPerSecond: UInt64) {
    self.now = now
    self.ticksPerSecond = ticksPerSecond
  }

  func advance(nanoseconds: UInt64) { now += nanoseconds * ticksPerSecond / 1_000_000_000 }
}

/// Every device's state saved, restored into a fresh device on another clock, and the
/// restored device behaving as the original does from then on.
final class DeviceStateTests: XCTestCase {
  private let here = RateClock(now: 7_000_000_000, ticksPerSecond: 1_000_000_000)
  private let there = RateClock(now: 900_000_000_000, ticksPerSecond: 3_000_000_000)

  // MARK: UART

  func testUARTRegistersAndPendingInterruptComeBack() {
    let console = RecordingConsole()
    let uart = UART16550(sink: console, vmName: Array("a".utf8))
    let write = { (port: UInt16, value: UInt32) in _ = uart.write(port: port, size: 1, value: value)
    }
    write(0x3FB, 0x80)  // DLAB
    write(0x3F8, 0x0C)
    write(0x3F9, 0x00)
    write(0x3FB, 0x1B)  // 8 bits, even parity
    write(0x3FA, 0x07)
    write(0x3FC, 0x0B)
    write(0x3FF, 0x5A)
    write(0x3F9, 0x02)  // ETBEI: THR-empty interrupt pending
    for byte in "hi".utf8 { write(0x3F8, UInt32(byte)) }

    let copy = UART16550(sink: console, vmName: Array("a".utf8))
    copy.restore(uart.save())
    XCTAssertEqual(copy.save(), uart.save())
    XCTAssertEqual(copy.transmitted, 2)
    for port in UInt16(0x3F8)...0x3FF {
      XCTAssertEqual(copy.read(port: port, size: 1), uart.read(port: port, size: 1), "port \(port)")
    }
    _ = copy.write(port: 0x3FB, size: 1, value: 0x9B)
    _ = uart.write(port: 0x3FB, size: 1, value: 0x9B)
    XCTAssertEqual(copy.read(port: 0x3F8, size: 1), 0x0C, "divisor latch")
  }

  // MARK: PIT

  func testPITCountsOnFromWhereItWasOnAnotherClock() {
    let pit = PIT8254(clock: here)
    _ = pit.write(port: 0x43, size: 1, value: 0x34)  // channel 0, lo/hi, mode 2
    _ = pit.write(port: 0x40, size: 1, value: 0x00)
    _ = pit.write(port: 0x40, size: 1, value: 0x30)  // 0x3000
    _ = pit.write(port: 0x61, size: 1, value: 0x01)  // gate 2 on
    _ = pit.write(port: 0x43, size: 1, value: 0xB0)  // channel 2, lo/hi, mode 0
    _ = pit.write(port: 0x42, size: 1, value: 0xFF)
    _ = pit.write(port: 0x42, size: 1, value: 0xFF)
    _ = pit.write(port: 0x43, size: 1, value: 0x70)  // channel 1 lo/hi, mode 0, half written
    _ = pit.write(port: 0x41, size: 1, value: 0x12)
    here.advance(nanoseconds: 4_321_000)

    let copy = PIT8254(clock: there)
    copy.restore(pit.save())
    for step in 0..<5 {
      for index in 0..<3 {
        XCTAssertEqual(copy.count(index), pit.count(index), "channel \(index), step \(step)")
        XCTAssertEqual(copy.output(index), pit.output(index), "channel \(index), step \(step)")
      }
      here.advance(nanoseconds: 1_700_000)
      there.advance(nanoseconds: 1_700_000)
    }
    _ = copy.write(port: 0x41, size: 1, value: 0x34)
    _ = pit.write(port: 0x41, size: 1, value: 0x34)
    XCTAssertEqual(copy.count(1), 0x3412, "the pending low byte came along")
    XCTAssertEqual(copy.count(1), pit.count(1))
  }

  // MARK: Local APIC

  private func programmedAPIC(clock: RateClock) -> LocalAPICModel {
    let apic = LocalAPICModel(id: 1, clock: clock)
    let write = { (offset: UInt64, value: UInt32) in
      _ = apic.write(offset: offset, size: 4, value: UInt64(value))
    }
    write(0xF0, 0x1FF)
    write(0x80, 0x20)
    write(0xD0, 0x0200_0000)
    write(0x3E0, 0xB)  // divide by 1
    write(0x320, 0x2_0040)  // periodic, vector 0x40
    write(0x380, 3_000_000)  // 3 ms at the 1 GHz bus
    write(0x350, 0x700)  // LINT0 ExtINT
    write(0x310, 0x0100_0000)
    apic.request(0x51)
    apic.request(0x61)
    apic.acknowledge(0x61)  // in service
    return apic
  }

  func testLocalAPICTimerFiresAtTheSameGuestTimeAfterRestore() {
    let apic = programmedAPIC(clock: here)
    here.advance(nanoseconds: 1_000_000)
    let copy = LocalAPICModel(id: 1, clock: there)
    copy.restore(apic.save())
    XCTAssertEqual(copy.save(), apic.save())
    XCTAssertEqual(copy.readRegister(offset: 0x390), apic.readRegister(offset: 0x390))
    for offset: UInt64 in [0x80, 0xA0, 0xD0, 0xF0, 0x100 + 0x30, 0x200 + 0x20, 0x310, 0x320, 0x350]
    {
      XCTAssertEqual(copy.readRegister(offset: offset), apic.readRegister(offset: offset))
    }
    // 1.999 ms later neither fires; 1 µs after that both do, and again 3 ms on.
    here.advance(nanoseconds: 1_999_000)
    there.advance(nanoseconds: 1_999_000)
    XCTAssertFalse(apic.pollTimer())
    XCTAssertFalse(copy.pollTimer())
    here.advance(nanoseconds: 1_000)
    there.advance(nanoseconds: 1_000)
    XCTAssertTrue(apic.pollTimer())
    XCTAssertTrue(copy.pollTimer())
    XCTAssertEqual(copy.save().requests, apic.save().requests)
    here.advance(nanoseconds: 3_000_000)
    there.advance(nanoseconds: 3_000_000)
    XCTAssertTrue(copy.pollTimer())
  }

  func testLocalAPICKeepsX2APICModeAndItsBootstrapBit() {
    let apic = LocalAPICModel(id: 0, clock: here)
    XCTAssertTrue(
      apic.setBaseMSR(
        LocalAPICModel.base | LocalAPICModel.globalEnable | LocalAPICModel.x2APICEnable))
    let copy = LocalAPICModel(id: 0, clock: there)
    copy.restore(apic.save())
    XCTAssertEqual(copy.mode, .x2APIC)
    XCTAssertEqual(copy.baseMSR, apic.baseMSR)
    XCTAssertEqual(copy.read(offset: 0x20, size: 4), UInt64.max, "MMIO is gone in x2APIC mode")
  }

  // MARK: I/O APIC, ACPI, test device

  func testIOAPICRedirectionTableAndIndexComeBack() {
    let ioapic = IOAPICModel(id: 4, vcpus: [])
    for (register, value) in [(0x12, 0x0000_A031), (0x13, 0x0300_0000), (0x2F, 0xFF00_0000)] {
      _ = ioapic.write(offset: 0, size: 4, value: UInt64(register))
      _ = ioapic.write(offset: 0x10, size: 4, value: UInt64(value))
    }
    _ = ioapic.write(offset: 0, size: 4, value: 0x13)
    let copy = IOAPICModel(id: 4, vcpus: [])
    copy.restore(ioapic.save())
    XCTAssertEqual(copy.read(offset: 0x10, size: 4), 0x0300_0000, "the index came back")
    for register in UInt64(0)..<0x40 {
      _ = ioapic.write(offset: 0, size: 4, value: register)
      _ = copy.write(offset: 0, size: 4, value: register)
      XCTAssertEqual(copy.read(offset: 0x10, size: 4), ioapic.read(offset: 0x10, size: 4))
    }
  }

  func testACPIPowerAndTestDeviceRegistersComeBack() {
    let power = ACPIPowerDevice()
    _ = power.write(port: 0x602, size: 2, value: 0x0121)
    _ = power.write(port: 0x604, size: 2, value: 0x1C00)  // SLP_TYP 7, no SLP_EN
    let copy = ACPIPowerDevice()
    copy.restore(power.save())
    for port: UInt16 in [0x600, 0x602, 0x604] {
      XCTAssertEqual(copy.read(port: port, size: 2), power.read(port: port, size: 2))
    }
    let device = TestMMIODevice()
    _ = device.write(offset: 8, size: 8, value: 0xFEED)
    let other = TestMMIODevice()
    other.restore(device.save())
    XCTAssertEqual(other.read(offset: 8, size: 8), device.read(offset: 8, size: 8))
    XCTAssertEqual(other.read(offset: 16, size: 8), device.read(offset: 16, size: 8))
    XCTAssertEqual(DebugExitPort().save(), DebugExitPort.State())
    XCTAssertEqual(ResetDevice().save(), ResetDevice.State())
  }
}
