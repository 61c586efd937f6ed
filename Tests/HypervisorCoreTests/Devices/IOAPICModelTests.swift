import HypervisorCore
import XCTest

/// vCPUs with enabled local APICs (ID = index), as a Linux guest's.
func vcpusWithAPICs(_ count: Int, clock: NanosecondClock) -> [VirtualCPU] {
  (0..<count).map { index in
    let vcpu = VirtualCPU(index: index)
    let apic = LocalAPICModel(id: UInt8(index), clock: clock)
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)
    vcpu.localAPIC = apic
    return vcpu
  }
}

/// Takes the interrupts posted to `vcpu` into its APIC, as its own CPU does before entry.
func takePosted(_ vcpu: VirtualCPU) -> UInt8? {
  VCPURequests.drainInterrupts(vcpu)
  return vcpu.localAPIC?.pendingVector
}

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
    let ioapic = IOAPICModel(id: 1, vcpus: [])
    XCTAssertEqual(select(ioapic, 0x01) >> 16, 23, "24 redirection entries")
    XCTAssertEqual(select(ioapic, 0x00) >> 24, 1)
    XCTAssertEqual(select(ioapic, 0x10 + 2 * 4) & (1 << 16), 1 << 16, "masked")
  }

  /// The I/O APIC posts: the target's APIC is untouched until its own CPU drains.
  func testAnUnmaskedPinPostsItsVectorToTheNamedVCPU() {
    let vcpus = vcpusWithAPICs(2, clock: clock)
    let ioapic = IOAPICModel(id: 2, vcpus: vcpus)
    _ = select(ioapic, 0x10 + 2 * 4 + 1, write: 1 << 24)  // destination APIC 1
    _ = select(ioapic, 0x10 + 2 * 4, write: 0x24)  // vector 0x24, fixed, physical, edge
    ioapic.raise(pin: 4)
    XCTAssertNil(vcpus[1].localAPIC!.pendingVector, "only a request until drained")
    XCTAssertEqual(VirtualCPU.State.runnable, vcpus[1].state)
    XCTAssertNil(takePosted(vcpus[0]))
    XCTAssertEqual(takePosted(vcpus[1]), 0x24)
  }

  func testMaskedPinDeliversNothing() {
    let vcpus = vcpusWithAPICs(1, clock: clock)
    let ioapic = IOAPICModel(id: 1, vcpus: vcpus)
    _ = select(ioapic, 0x10 + 2 * 3, write: 1 << 16 | 0x30)
    ioapic.raise(pin: 3)
    XCTAssertFalse(vcpus[0].hasRequests)
    XCTAssertNil(takePosted(vcpus[0]))
  }

  func testLogicalFlatDestinationReachesEveryNamedVCPU() {
    let vcpus = vcpusWithAPICs(3, clock: clock)
    for (index, vcpu) in vcpus.enumerated() {  // flat model, LDR bit = index
      _ = vcpu.localAPIC!.write(offset: 0xD0, size: 4, value: UInt64(1 << index) << 24)
    }
    let ioapic = IOAPICModel(id: 3, vcpus: vcpus)
    _ = select(ioapic, 0x10 + 2 * 5 + 1, write: 0x05 << 24)  // vCPUs 0 and 2
    _ = select(ioapic, 0x10 + 2 * 5, write: 1 << 11 | 0x35)  // logical, fixed
    ioapic.raise(pin: 5)
    XCTAssertEqual(vcpus.map(takePosted), [0x35, nil, 0x35])
  }

  /// kvm-unit-tests' ioapic `test_ioapic_logical_destination_mode`: with x2APIC on, the
  /// 8-bit logical destination 0xD is cluster 0, members 0, 2 and 3 (LDR is the derived
  /// x2APIC logical ID). It used to match the xAPIC LDR, 0, so only vCPU 0 got it (the
  /// fallback) and the test waited forever for the other two.
  func testLogicalDestinationInX2APICModeUsesTheDerivedLogicalID() {
    let vcpus = vcpusWithAPICs(4, clock: clock)
    for vcpu in vcpus {
      let base = vcpu.localAPIC!.baseMSR
      XCTAssertTrue(vcpu.localAPIC!.setBaseMSR(base | 1 << 10), "x2APIC mode")
    }
    let ioapic = IOAPICModel(id: 4, vcpus: vcpus)
    _ = select(ioapic, 0x10 + 2 * 0xE + 1, write: 0x0D << 24)
    _ = select(ioapic, 0x10 + 2 * 0xE, write: 1 << 15 | 1 << 11 | 0x86)  // level, logical
    ioapic.setLevel(pin: 0xE, high: true)
    XCTAssertEqual(vcpus.map(takePosted), [0x86, nil, 0x86, 0x86])
    XCTAssertTrue(vcpus[1].localAPIC!.acceptsLogical(0xFF), "0xFF is a broadcast")
    XCTAssertFalse(vcpus[1].localAPIC!.acceptsLogical(0x0D))
  }

  func testLogicalClusterLowestPriorityGoesToOneVCPU() {
    let vcpus = vcpusWithAPICs(3, clock: clock)
    for (index, vcpu) in vcpus.enumerated() {  // cluster model: cluster 1, member bit index
      _ = vcpu.localAPIC!.write(offset: 0xE0, size: 4, value: 0x0FFF_FFFF)
      _ = vcpu.localAPIC!.write(offset: 0xD0, size: 4, value: UInt64(0x10 | 1 << index) << 24)
    }
    let ioapic = IOAPICModel(id: 3, vcpus: vcpus)
    _ = select(ioapic, 0x10 + 2 * 6 + 1, write: 0x16 << 24)  // cluster 1, members 1 and 2
    _ = select(ioapic, 0x10 + 2 * 6, write: 1 << 11 | 1 << 8 | 0x36)  // lowest priority
    ioapic.raise(pin: 6)
    XCTAssertEqual(vcpus.map(takePosted), [nil, 0x36, nil])
  }

  func testPhysicalBroadcastAndNMIDelivery() {
    let vcpus = vcpusWithAPICs(2, clock: clock)
    let ioapic = IOAPICModel(id: 2, vcpus: vcpus)
    _ = select(ioapic, 0x10 + 2 * 7 + 1, write: 0xFF << 24)  // all
    _ = select(ioapic, 0x10 + 2 * 7, write: 4 << 8)  // NMI
    ioapic.raise(pin: 7)
    for vcpu in vcpus {
      XCTAssertNil(takePosted(vcpu))
      XCTAssertTrue(vcpu.localAPIC!.nmiPending)
    }
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
    let vcpus = vcpusWithAPICs(1, clock: NanosecondClock())
    let ioapic = IOAPICModel(id: 1, vcpus: vcpus)
    _ = ioapic.write(offset: 0, size: 4, value: 0x10 + 8)
    _ = ioapic.write(offset: 0x10, size: 4, value: 0x34)  // pin 4 -> vector 0x34
    let uart = UART16550(sink: Sink(), vmName: Array("vm".utf8))
    uart.interruptLine = InterruptLine(controller: ioapic, pin: 4)
    _ = uart.write(port: 0x3FC, size: 1, value: 0x08)  // MCR.OUT2: IRQ line enabled
    XCTAssertEqual(uart.read(port: 0x3FA, size: 1) & 0x0F, 0x01, "nothing pending yet")
    _ = uart.write(port: 0x3F9, size: 1, value: 0x02)  // IER: ETBEI
    XCTAssertEqual(uart.read(port: 0x3FA, size: 1) & 0x0F, 0x02, "THR empty pending")
    XCTAssertEqual(uart.read(port: 0x3FA, size: 1) & 0x0F, 0x01, "reading IIR cleared it")
    XCTAssertEqual(takePosted(vcpus[0]), 0x34)
    _ = uart.write(port: 0x3F8, size: 1, value: 0x41)
    XCTAssertEqual(uart.read(port: 0x3FA, size: 1) & 0x0F, 0x02, "empty again after a byte")
  }
}
