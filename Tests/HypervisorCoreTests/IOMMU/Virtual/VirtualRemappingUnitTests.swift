import HypervisorCore
import XCTest

/// The register page of VirtualRemappingUnit (VT-d spec rev 4.1 §11.4) as a guest driver
/// meets it, its fault record, and its translation with translation on and off.
final class VirtualRemappingUnitTests: XCTestCase {
  private let edu = RequesterID(bus: 0, device: 3, function: 0)

  private func read32(_ unit: VirtualRemappingUnit, _ offset: Int) -> UInt32 {
    UInt32(truncatingIfNeeded: unit.read(offset: UInt64(offset), size: 4))
  }

  private func write32(_ unit: VirtualRemappingUnit, _ offset: Int, _ value: UInt32) {
    _ = unit.write(offset: UInt64(offset), size: 4, value: UInt64(value))
  }

  private func write64(_ unit: VirtualRemappingUnit, _ offset: Int, _ value: UInt64) {
    _ = unit.write(offset: UInt64(offset), size: 8, value: value)
  }

  /// GCMD as kvm-unit-tests and Linux write it: the status so far plus one new bit.
  private func command(_ unit: VirtualRemappingUnit, _ bit: UInt32) {
    let status = read32(unit, RemappingRegister.globalStatus)
    write32(unit, RemappingRegister.globalCommand, status | bit)
  }

  func testIdentityRegistersAsQ35sUnit() {
    let fixture = VirtualRemappingFixture()
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: nil)
    XCTAssertEqual(read32(unit, RemappingRegister.version) >> 4, 1, "major version 1")
    let capability = RemappingCapability(unit.read(offset: 8, size: 8))
    XCTAssertTrue(capability.cachingMode)
    XCTAssertEqual(capability.supportedAddressWidths & 0b110, 0b110, "39- and 48-bit")
    XCTAssertTrue(capability.supports2MPages)
    XCTAssertFalse(capability.supports1GPages)
    XCTAssertEqual(capability.faultRecordingOffset, VirtualRemappingIdentity.faultRecordOffset)
    XCTAssertEqual(capability.faultRecordCount, 1)
    let extended = RemappingExtendedCapability(unit.read(offset: 0x10, size: 8))
    XCTAssertTrue(extended.queuedInvalidation)
    XCTAssertTrue(extended.interruptRemapping)
    XCTAssertFalse(extended.extendedInterruptMode)
    XCTAssertTrue(extended.passThrough)
    XCTAssertEqual(extended.iotlbOffset, VirtualRemappingIdentity.iotlbOffset)
    XCTAssertEqual(read32(unit, RemappingRegister.faultEventControl), 1 << 31, "IM at reset")
  }

  func testGlobalCommandSetsStatusAndLatchesTablePointers() {
    let fixture = VirtualRemappingFixture()
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: nil)
    write64(unit, RemappingRegister.rootTableAddress, 0x10_4000)
    XCTAssertEqual(unit.registers.rootTable, 0, "RTADDR alone changes nothing")
    command(unit, RemappingGlobalBit.setRootTablePointer)
    XCTAssertEqual(unit.registers.rootTable, 0x10_4000)
    write64(unit, InterruptRemappingRegister.tableAddress, 0x10_5000 | 0xF)
    command(unit, RemappingGlobalBit.setInterruptTablePointer)
    XCTAssertEqual(unit.registers.interruptTable, 0x10_500F)
    command(unit, RemappingGlobalBit.queuedInvalidation)
    command(unit, RemappingGlobalBit.translationEnable)
    command(unit, RemappingGlobalBit.interruptRemapping)
    let status = read32(unit, RemappingRegister.globalStatus)
    for bit in [
      RemappingGlobalBit.setRootTablePointer, RemappingGlobalBit.setInterruptTablePointer,
      RemappingGlobalBit.queuedInvalidation, RemappingGlobalBit.translationEnable,
      RemappingGlobalBit.interruptRemapping,
    ] {
      XCTAssertNotEqual(status & bit, 0)
    }
    XCTAssertEqual(read32(unit, RemappingRegister.faultStatus), 0)
    // A new RTADDR takes effect only at the next SRTP, and clearing TE turns it off.
    write64(unit, RemappingRegister.rootTableAddress, 0x20_0000)
    XCTAssertEqual(unit.registers.rootTable, 0x10_4000)
    write32(unit, RemappingRegister.globalCommand, status & ~RemappingGlobalBit.translationEnable)
    XCTAssertEqual(read32(unit, RemappingRegister.globalStatus) & (1 << 31), 0)
    XCTAssertEqual(unit.registers.rootTable, 0x20_0000, "the write carried RTPS: latched again")
  }

  func testRegisterInvalidationsCompleteAtOnce() {
    let fixture = VirtualRemappingFixture()
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: nil)
    write64(unit, RemappingRegister.contextCommand, RemappingInvalidation.contextDomain(5))
    let context = unit.read(offset: UInt64(RemappingRegister.contextCommand), size: 8)
    XCTAssertEqual(context & RemappingInvalidation.busy, 0)
    XCTAssertEqual(context >> 59 & 3, 2, "CAIG: domain-selective done")
    let iotlb = VirtualRemappingIdentity.iotlbOffset + 8
    write64(unit, iotlb, RemappingInvalidation.iotlbGlobal)
    let done = unit.read(offset: UInt64(iotlb), size: 8)
    XCTAssertEqual(done & RemappingInvalidation.busy, 0)
    XCTAssertEqual(done >> 57 & 3, 1, "IAIG: global done")
  }

  func testTranslationOffPassesGuestPhysicalAndOnWalksTheTables() {
    let fixture = VirtualRemappingFixture()
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: nil)
    XCTAssertEqual(unit.translate(0x12_3000, write: true, requester: edu), 0x12_3000)
    let (root, top) = fixture.rootAndContext(for: edu)
    fixture.map(iova: 0, to: 0x20_0000, top: top)
    write64(unit, RemappingRegister.rootTableAddress, root)
    command(unit, RemappingGlobalBit.setRootTablePointer)
    command(unit, RemappingGlobalBit.translationEnable)
    XCTAssertEqual(unit.translate(0x10, write: false, requester: edu), 0x20_0010)
    XCTAssertNil(unit.translate(0x12_3000, write: true, requester: edu))
    XCTAssertEqual(unit.translations, 2)
    XCTAssertEqual(unit.faults, 1)
  }

  func testABlockedDMAIsRecordedReportedAndSignalledOnceUnmasked() {
    let fixture = VirtualRemappingFixture()
    let events = RecordingMessages()
    let reporter = RecordingFaultReporter()
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: events)
    unit.reporter = reporter
    let (root, _) = fixture.rootAndContext(for: edu)
    write64(unit, RemappingRegister.rootTableAddress, root)
    command(unit, RemappingGlobalBit.setRootTablePointer)
    command(unit, RemappingGlobalBit.translationEnable)
    write32(unit, RemappingRegister.faultEventData, 0x41)
    write32(unit, RemappingRegister.faultEventAddress, 0xFEE0_0000)
    XCTAssertNil(unit.translate(0x5123, write: true, requester: edu))

    let status = read32(unit, RemappingRegister.faultStatus)
    XCTAssertEqual(status & RemappingFaultStatus.pending, RemappingFaultStatus.pending)
    let record = VirtualRemappingIdentity.faultRecordOffset
    let fault = RemappingFault(
      low: unit.read(offset: UInt64(record), size: 8),
      high: unit.read(offset: UInt64(record + 8), size: 8))
    XCTAssertEqual(fault?.requester, edu)
    XCTAssertEqual(fault?.address, 0x5000)
    XCTAssertEqual(fault?.reason, .writeNotPermitted)
    XCTAssertEqual(fault?.isRead, false)
    XCTAssertEqual(reporter.faults.count, 1)
    XCTAssertTrue(events.messages.isEmpty, "FECTL.IM is set at reset: pending only")
    XCTAssertEqual(read32(unit, RemappingRegister.faultEventControl), 3 << 30)
    write32(unit, RemappingRegister.faultEventControl, 0)
    XCTAssertEqual(events.messages.count, 1)
    XCTAssertEqual(events.messages.first?.address, 0xFEE0_0000)
    XCTAssertEqual(events.messages.first?.data, 0x41)

    // A second fault while the record is full: overflow, not recorded.
    XCTAssertNil(unit.translate(0x9000, write: false, requester: edu))
    XCTAssertNotEqual(
      read32(unit, RemappingRegister.faultStatus) & RemappingFaultStatus.overflow, 0)
    // Clearing F (write 1) and PFO empties FSTS.
    write32(unit, record + 12, 1 << 31)
    write32(unit, RemappingRegister.faultStatus, RemappingFaultStatus.overflow)
    XCTAssertEqual(read32(unit, RemappingRegister.faultStatus), 0)
    XCTAssertEqual(unit.faults, 2)
  }

  func testFaultProcessingDisableSuppressesTheRecordNotTheCount() {
    let fixture = VirtualRemappingFixture()
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: nil)
    let (root, _) = fixture.rootAndContext(for: edu, faultsDisabled: true)
    write64(unit, RemappingRegister.rootTableAddress, root)
    command(unit, RemappingGlobalBit.setRootTablePointer)
    command(unit, RemappingGlobalBit.translationEnable)
    XCTAssertNil(unit.translate(0x1000, write: false, requester: edu))
    XCTAssertEqual(read32(unit, RemappingRegister.faultStatus), 0)
    XCTAssertEqual(unit.faults, 1)
  }
}
