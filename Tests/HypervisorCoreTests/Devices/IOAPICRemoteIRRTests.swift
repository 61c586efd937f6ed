import HypervisorCore
import XCTest

/// Level-triggered entries and remote IRR (82093AA §3.2.4, SDM 3A §11.8.5).
final class IOAPICRemoteIRRTests: XCTestCase {
  private let clock = NanosecondClock()

  private func program(_ ioapic: IOAPICModel, pin: Int, _ low: UInt32) {
    _ = ioapic.write(offset: 0, size: 4, value: UInt64(0x10 + 2 * pin))
    _ = ioapic.write(offset: 0x10, size: 4, value: UInt64(low))
  }

  private func entry(_ ioapic: IOAPICModel, pin: Int) -> UInt32 {
    _ = ioapic.write(offset: 0, size: 4, value: UInt64(0x10 + 2 * pin))
    return UInt32(truncatingIfNeeded: ioapic.read(offset: 0x10, size: 4))
  }

  /// Taken by the vCPU's APIC and ended with its EOI.
  private func takeAndEOI(_ vcpu: VirtualCPU) {
    vcpu.localAPIC?.acknowledge(takePosted(vcpu)!)
    _ = vcpu.localAPIC?.write(offset: 0xB0, size: 4, value: 0)
  }

  func testALevelEntrySetsRemoteIRRAndWaitsForTheEOI() {
    let vcpus = vcpusWithAPICs(1, clock: clock)
    let ioapic = IOAPICModel(id: 1, vcpus: vcpus)
    vcpus[0].localAPIC?.endOfInterruptListener = ioapic
    program(ioapic, pin: 14, 0x8077)  // level, vector 0x77
    ioapic.setLevel(pin: 14, high: true)
    XCTAssertEqual(entry(ioapic, pin: 14) & 0x4000, 0x4000, "remote IRR")
    XCTAssertEqual(takePosted(vcpus[0]), 0x77)
    vcpus[0].localAPIC?.acknowledge(0x77)
    ioapic.setLevel(pin: 14, high: false)
    ioapic.setLevel(pin: 14, high: true)
    XCTAssertNil(takePosted(vcpus[0]), "remote IRR holds a second assertion")
    _ = vcpus[0].localAPIC?.write(offset: 0xB0, size: 4, value: 0)  // EOI broadcast
    XCTAssertEqual(takePosted(vcpus[0]), 0x77, "still high after the EOI: again")
    ioapic.setLevel(pin: 14, high: false)
    takeAndEOI(vcpus[0])
    XCTAssertEqual(entry(ioapic, pin: 14) & 0x4000, 0, "cleared, line low")
    XCTAssertNil(takePosted(vcpus[0]))
  }

  /// The EOI register (version 0x20) clears remote IRR as the broadcast does.
  func testTheEOIRegisterClearsRemoteIRR() {
    let vcpus = vcpusWithAPICs(1, clock: clock)
    let ioapic = IOAPICModel(id: 1, vcpus: vcpus)
    program(ioapic, pin: 13, 0x8076)
    ioapic.setLevel(pin: 13, high: true)
    ioapic.setLevel(pin: 13, high: false)
    _ = ioapic.write(offset: 0x40, size: 4, value: 0x75)
    XCTAssertEqual(entry(ioapic, pin: 13) & 0x4000, 0x4000, "another vector: kept")
    _ = ioapic.write(offset: 0x40, size: 4, value: 0x76)
    XCTAssertEqual(entry(ioapic, pin: 13) & 0x4000, 0)
  }

  /// A masked level entry delivers when unmasked while its line is still high.
  func testUnmaskingAHighLevelLineDelivers() {
    let vcpus = vcpusWithAPICs(1, clock: clock)
    let ioapic = IOAPICModel(id: 1, vcpus: vcpus)
    program(ioapic, pin: 14, 0x1_8078)  // masked
    ioapic.setLevel(pin: 14, high: true)
    XCTAssertNil(takePosted(vcpus[0]))
    program(ioapic, pin: 14, 0x8078)
    XCTAssertEqual(takePosted(vcpus[0]), 0x78)
  }

  /// Edge entries deliver once per rising edge, never set remote IRR, and pulses (the
  /// UART's) still deliver every time.
  func testEdgeEntriesDeliverOnRisingEdgesOnly() {
    let vcpus = vcpusWithAPICs(1, clock: clock)
    let ioapic = IOAPICModel(id: 1, vcpus: vcpus)
    program(ioapic, pin: 4, 0x0024)
    ioapic.setLevel(pin: 4, high: true)
    takeAndEOI(vcpus[0])
    ioapic.setLevel(pin: 4, high: true)
    XCTAssertNil(takePosted(vcpus[0]), "no new edge")
    XCTAssertEqual(entry(ioapic, pin: 4) & 0x4000, 0)
    ioapic.raise(pin: 4)
    XCTAssertEqual(takePosted(vcpus[0]), 0x24)
  }
}

/// IOAPICID bits 27:24 writable, the arbitration ID following (kvm-unit-tests ioapic).
final class IOAPICIdentificationTests: XCTestCase {
  func testOnlyIDBitsAreWritableAndArbitrationFollows() {
    let ioapic = IOAPICModel(id: 1, vcpus: [])
    _ = ioapic.write(offset: 0, size: 4, value: 0)
    _ = ioapic.write(offset: 0x10, size: 4, value: 0xFEFF_FFFF)
    XCTAssertEqual(ioapic.read(offset: 0x10, size: 4), 0x0E00_0000)
    _ = ioapic.write(offset: 0, size: 4, value: 2)
    _ = ioapic.write(offset: 0x10, size: 4, value: 0)
    XCTAssertEqual(ioapic.read(offset: 0x10, size: 4), 0x0E00_0000, "arbitration: read-only")
  }
}
