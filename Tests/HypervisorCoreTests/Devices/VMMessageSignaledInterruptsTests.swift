import XCTest

@testable import HypervisorCore

/// MSI decoding (SDM 3A §11.11): whom the address names, what the data delivers.
final class VMMessageSignaledInterruptsTests: XCTestCase {
  private let clock = NanosecondClock()

  private func address(destination: UInt8, logical: Bool = false, hint: Bool = false) -> UInt64 {
    0xFEE0_0000 | UInt64(destination) << 12 | (hint ? 1 << 3 : 0) | (logical ? 1 << 2 : 0)
  }

  func testAddressAndDataDecode() {
    typealias MSI = VMMessageSignaledInterrupts
    XCTAssertEqual(MSI.destination(of: address(destination: 3)), .physical(3))
    XCTAssertEqual(MSI.destination(of: address(destination: 0x12, logical: true)), .logical(0x12))
    XCTAssertEqual(MSI.destination(of: 0xFEEF_F00C), .logical(0xFF), "hint and logical set")
    XCTAssertNil(MSI.destination(of: 0xFED0_0000))
    XCTAssertNil(MSI.destination(of: 0xFEF0_0000))
    XCTAssertNil(MSI.destination(of: 0x1_FEE0_0000), "a 64-bit address above 4 GiB")
    XCTAssertEqual(MSI.delivery(of: 0x0000_C041), .fixed(vector: 0x41), "trigger bits ignored")
    XCTAssertEqual(MSI.delivery(of: 0x0133), .lowestPriority(vector: 0x33))
    XCTAssertEqual(MSI.delivery(of: 0x0400), .nmi)
    XCTAssertEqual(MSI.delivery(of: 0x0200), .unsupported(mode: 2), "SMI")
    XCTAssertEqual(MSI.delivery(of: 0x0500), .unsupported(mode: 5), "INIT")
    XCTAssertEqual(MSI.delivery(of: 0x0700), .unsupported(mode: 7), "ExtINT")
  }

  func testPhysicalFixedReachesOnlyTheNamedVCPU() {
    let vcpus = vcpusWithAPICs(3, clock: clock)
    let msi = VMMessageSignaledInterrupts(vcpus: vcpus)
    msi.signal(address: address(destination: 2), data: 0x51)
    XCTAssertEqual(vcpus.map(takePosted), [nil, nil, 0x51])
    XCTAssertEqual(msi.delivered.load(ordering: .relaxed), 1)
  }

  func testPhysicalBroadcastReachesEveryVCPU() {
    let vcpus = vcpusWithAPICs(3, clock: clock)
    let msi = VMMessageSignaledInterrupts(vcpus: vcpus)
    msi.signal(address: address(destination: 0xFF), data: 0x61)
    XCTAssertEqual(vcpus.map(takePosted), [0x61, 0x61, 0x61])
  }

  func testLogicalFlatFixedAndLowestPriority() {
    let vcpus = vcpusWithAPICs(3, clock: clock)
    for (index, vcpu) in vcpus.enumerated() {  // flat model, LDR bit = index
      _ = vcpu.localAPIC!.write(offset: 0xD0, size: 4, value: UInt64(1 << index) << 24)
    }
    let msi = VMMessageSignaledInterrupts(vcpus: vcpus)
    msi.signal(address: address(destination: 0b110, logical: true), data: 0x71)
    XCTAssertEqual(vcpus.map(takePosted), [nil, 0x71, 0x71])
    for vcpu in vcpus { vcpu.localAPIC!.acknowledge(0x71) }
    msi.signal(address: address(destination: 0b110, logical: true, hint: true), data: 0x182)
    XCTAssertEqual(vcpus.map(takePosted), [nil, 0x82, nil], "lowest priority: one of them")
  }

  func testNMIIsPostedAsAnNMI() {
    let vcpus = vcpusWithAPICs(2, clock: clock)
    let msi = VMMessageSignaledInterrupts(vcpus: vcpus)
    msi.signal(address: address(destination: 1), data: 0x400)
    XCTAssertTrue(vcpus[1].takeRequests().contains(.nmi))
    XCTAssertFalse(vcpus[0].hasRequests)
  }

  func testBadMessagesDeliverNothingAndAreCounted() {
    let vcpus = vcpusWithAPICs(2, clock: clock)
    let msi = VMMessageSignaledInterrupts(vcpus: vcpus)
    msi.signal(address: 0xFEC0_0000, data: 0x41)  // the I/O APIC page
    msi.signal(address: 0, data: 0x41)
    msi.signal(address: address(destination: 0), data: 0x0F)  // vector below 16
    msi.signal(address: address(destination: 0), data: 0x0541)  // INIT
    msi.signal(address: address(destination: 9), data: 0x41)  // no such APIC
    XCTAssertFalse(vcpus[0].hasRequests)
    XCTAssertFalse(vcpus[1].hasRequests)
    XCTAssertEqual(msi.droppedAddresses.load(ordering: .relaxed), 2)
    XCTAssertEqual(msi.undelivered.load(ordering: .relaxed), 3)
    XCTAssertEqual(msi.delivered.load(ordering: .relaxed), 0)
  }
}
