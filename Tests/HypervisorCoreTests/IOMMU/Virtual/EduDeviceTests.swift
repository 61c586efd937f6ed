import HypervisorCore
import XCTest

/// EduDevice (QEMU docs/specs/edu.rst) and its DMA through DeviceDMA: plain registers, the
/// DMA engine with and without the virtual unit, a DMA outside the VM's RAM, interrupts.
final class EduDeviceTests: XCTestCase {
  private let slot = RequesterID(bus: 0, device: 3, function: 0)

  private func edu(_ fixture: VirtualRemappingFixture, unit: VirtualRemappingUnit? = nil)
    -> (EduDevice, DeviceDMA)
  {
    let dma = DeviceDMA(memory: fixture.memory, unit: unit, requester: slot)
    let device = EduDevice(dma: dma)
    // Bus mastering on, as kvm-unit-tests' pci_enable_defaults does.
    _ = device.configuration.write(offset: 4, size: 2, value: 0b110)
    return (device, dma)
  }

  private func read(_ device: EduDevice, _ offset: UInt64, size: UInt8 = 4) -> UInt64 {
    device.readBAR(0, offset: offset, size: size)
  }

  private func write(_ device: EduDevice, _ offset: UInt64, _ value: UInt64, size: UInt8 = 4) {
    _ = device.writeBAR(0, offset: offset, size: size, value: value)
  }

  /// A DMA as lib/pci-edu.c's edu_dma starts it.
  private func dma(
    _ device: EduDevice, bus: UInt64, count: UInt64, offset: UInt64 = 0, toRAM: Bool
  ) {
    let buffer = EduDevice.bufferAddress + offset
    write(device, 0x80, toRAM ? buffer : bus, size: 8)
    write(device, 0x88, toRAM ? bus : buffer, size: 8)
    write(device, 0x90, count, size: 8)
    write(device, 0x98, toRAM ? 3 : 1)
  }

  func testIdentityLivenessAndFactorial() {
    let fixture = VirtualRemappingFixture()
    let (device, _) = edu(fixture)
    XCTAssertEqual(device.configuration.read(offset: 0, size: 4), 0x11E8_1234)
    XCTAssertEqual(read(device, 0x00), 0x0100_00ED)
    write(device, 0x04, 0x1234_5678)
    XCTAssertEqual(read(device, 0x04), 0xEDCB_A987)
    write(device, 0x08, 5)
    XCTAssertEqual(read(device, 0x08), 120)
    XCTAssertEqual(read(device, 0x00, size: 8), UInt64.max, "8-byte reads only from 0x80")
  }

  func testDMAWithoutAUnitUsesGuestPhysicalAddresses() {
    let fixture = VirtualRemappingFixture()
    let (device, _) = edu(fixture)
    fixture.store64(0x1122_3344_5566_7788, at: 0x20_0000)
    dma(device, bus: 0x20_0000, count: 8, toRAM: false)
    XCTAssertEqual(read(device, 0x98) & 1, 0, "done within the command write")
    dma(device, bus: 0x20_1000, count: 8, toRAM: true)
    XCTAssertEqual(fixture.load64(0x20_1000), 0x1122_3344_5566_7788)
    XCTAssertEqual(device.transfers, 2)
  }

  /// kvm-unit-tests' vtd_test_dmar: IOVA 0 mapped to a page; 4 bytes in, 4 bytes back at 4.
  func testDMAThroughTheUnitsTranslation() {
    let fixture = VirtualRemappingFixture()
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: nil)
    let (root, top) = fixture.rootAndContext(for: slot)
    let page = fixture.page()
    fixture.map(iova: 0, to: page, top: top)
    _ = unit.write(offset: UInt64(RemappingRegister.rootTableAddress), size: 8, value: root)
    _ = unit.write(
      offset: UInt64(RemappingRegister.globalCommand), size: 4,
      value: UInt64(RemappingGlobalBit.setRootTablePointer | RemappingGlobalBit.translationEnable))
    let (device, _) = edu(fixture, unit: unit)
    fixture.store64(0x1234_5678, at: page)
    dma(device, bus: 0, count: 4, toRAM: false)
    dma(device, bus: 4, count: 4, toRAM: true)
    XCTAssertEqual(fixture.load64(page), 0x1234_5678_1234_5678)
    XCTAssertEqual(fixture.load64(0), 0, "IOVA 0 is not guest-physical 0")
    XCTAssertEqual(unit.faults, 0)
  }

  /// The integration guest's second half: a DMA to an unmapped IOVA faults (recorded, with
  /// the edu's requester id) and leaves memory as it was, also at the guest-physical
  /// address equal to the IOVA.
  func testDMAToAnUnmappedIOVAFaultsAndWritesNothing() {
    let fixture = VirtualRemappingFixture()
    let reporter = RecordingFaultReporter()
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: nil)
    unit.reporter = reporter
    let (root, _) = fixture.rootAndContext(for: slot)
    _ = unit.write(offset: UInt64(RemappingRegister.rootTableAddress), size: 8, value: root)
    _ = unit.write(
      offset: UInt64(RemappingRegister.globalCommand), size: 4,
      value: UInt64(RemappingGlobalBit.setRootTablePointer | RemappingGlobalBit.translationEnable))
    let (device, dmaPath) = edu(fixture, unit: unit)
    fixture.store64(0xAAAA, at: 0x30_0000)
    write(device, 0x98, 0)
    dma(device, bus: 0x30_0000, count: 8, toRAM: true)
    XCTAssertEqual(fixture.load64(0x30_0000), 0xAAAA)
    XCTAssertEqual(device.refusedTransfers, 1)
    XCTAssertEqual(dmaPath.faults, 1)
    XCTAssertEqual(reporter.faults.first?.fault.requester, slot)
    XCTAssertEqual(reporter.faults.first?.fault.address, 0x30_0000)
    XCTAssertEqual(reporter.faults.first?.code, 0x5)
  }

  /// A guest that maps an IOVA to guest-physical memory beyond its RAM: the unit translates,
  /// the DMA path refuses the result (bounded to RAM), nothing is read or written.
  func testAMappingBeyondTheVMsRAMIsRefusedAfterTranslation() {
    let fixture = VirtualRemappingFixture()
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: nil)
    let (root, top) = fixture.rootAndContext(for: slot)
    fixture.map(iova: 0x5000, to: 0x1_0000_0000, top: top)  // 4 GiB: far past the 4 MiB
    _ = unit.write(offset: UInt64(RemappingRegister.rootTableAddress), size: 8, value: root)
    _ = unit.write(
      offset: UInt64(RemappingRegister.globalCommand), size: 4,
      value: UInt64(RemappingGlobalBit.setRootTablePointer | RemappingGlobalBit.translationEnable))
    let (device, dmaPath) = edu(fixture, unit: unit)
    dma(device, bus: 0x5000, count: 8, toRAM: true)
    dma(device, bus: 0x5000, count: 8, toRAM: false)
    XCTAssertEqual(device.refusedTransfers, 2)
    XCTAssertEqual(dmaPath.faults, 2)
    XCTAssertEqual(unit.faults, 0, "the unit translated: the refusal is the bus's")
  }

  func testDMAOutsideTheVMsRAMIsRefusedWithoutAUnit() {
    let fixture = VirtualRemappingFixture()
    let (device, dmaPath) = edu(fixture)
    dma(device, bus: UInt64(VirtualRemappingFixture.size) - 4, count: 8, toRAM: false)
    dma(device, bus: 0x1_0000_0000, count: 8, toRAM: true)
    XCTAssertEqual(device.refusedTransfers, 2)
    XCTAssertEqual(dmaPath.faults, 2)
    // The buffer side out of range, and a device without bus mastering, move nothing.
    dma(device, bus: 0x1000, count: 8, offset: 4092, toRAM: false)
    _ = device.configuration.write(offset: 4, size: 2, value: 0b010)
    dma(device, bus: 0x1000, count: 8, toRAM: false)
    XCTAssertEqual(device.refusedTransfers, 4)
    XCTAssertEqual(device.transfers, 0)
  }

  func testRaisedInterruptsGoByMSIOnceEnabledThroughTheRemappingSink() {
    let fixture = VirtualRemappingFixture()
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: nil)
    let table = fixture.page()
    let entry = InterruptRemappingEntry.fixed(vector: 0xEE, apicID: 0, requester: slot)
    fixture.store64(entry.low, at: table + 32)
    fixture.store64(entry.high, at: table + 40)
    _ = unit.write(
      offset: UInt64(InterruptRemappingRegister.tableAddress), size: 8, value: table | 0xF)
    _ = unit.write(
      offset: UInt64(RemappingRegister.globalCommand), size: 4,
      value: UInt64(
        RemappingGlobalBit.setInterruptTablePointer | RemappingGlobalBit.interruptRemapping))
    let (device, _) = edu(fixture, unit: unit)
    let delivered = RecordingMessages()
    device.routeMessages(
      through: RemappedMessageSink(unit: unit, requester: slot, destination: delivered))
    // MSI at 0x40: address 0xFEE00050 (handle 2, kvm-unit-tests' vtd_setup_msi), data 0.
    let message = HostMSIFormat.remappable(handle: 2)
    _ = device.configuration.write(offset: 0x44, size: 4, value: UInt32(message.address))
    _ = device.configuration.write(offset: 0x48, size: 4, value: 0)
    _ = device.configuration.write(offset: 0x4C, size: 2, value: 0)
    write(device, 0x60, 1)
    XCTAssertTrue(delivered.messages.isEmpty, "MSI not enabled yet")
    XCTAssertEqual(read(device, 0x24), 1)
    write(device, 0x64, 1)
    _ = device.configuration.write(offset: 0x42, size: 2, value: 1)
    write(device, 0x60, 1)
    XCTAssertEqual(delivered.messages.count, 1)
    XCTAssertEqual(delivered.messages.first?.address, 0xFEE0_0000)
    XCTAssertEqual(delivered.messages.first?.data, 0xEE)
    // Another requester's message for that entry is blocked by the source-id check.
    let stranger = RemappedMessageSink(
      unit: unit, requester: RequesterID(bus: 0, device: 4, function: 0), destination: delivered)
    stranger.signal(address: message.address, data: 0)
    XCTAssertEqual(delivered.messages.count, 1)
    XCTAssertEqual(unit.faults, 1)
  }

  func testINTxFollowsTheInterruptStatus() {
    let fixture = VirtualRemappingFixture()
    let vcpus = vcpusWithAPICs(1, clock: NanosecondClock())
    let ioapic = IOAPICModel(id: 1, vcpus: vcpus)
    let (device, _) = edu(fixture)
    device.connectInterrupts(RecordingMessages(), intx: InterruptLine(controller: ioapic, pin: 19))
    _ = ioapic.write(offset: 0, size: 4, value: 0x10 + 2 * 19)
    _ = ioapic.write(offset: 0x10, size: 4, value: 0x51)  // edge, vector 0x51
    write(device, 0x60, 1)
    XCTAssertEqual(takePosted(vcpus[0]), 0x51)
    // A higher vector from now on shows whether a new edge was delivered.
    _ = ioapic.write(offset: 0x10, size: 4, value: 0x61)
    write(device, 0x60, 2)
    XCTAssertEqual(takePosted(vcpus[0]), 0x51, "still high: no new edge")
    write(device, 0x64, 3)
    write(device, 0x60, 4)
    XCTAssertEqual(takePosted(vcpus[0]), 0x61, "low after the acknowledge, then a new edge")
  }
}
