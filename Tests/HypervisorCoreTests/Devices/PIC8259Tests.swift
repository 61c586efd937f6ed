import HypervisorCore
import XCTest

final class PIC8259Tests: XCTestCase {
  private func out(_ pic: PIC8259Pair, _ port: UInt16, _ value: UInt8) {
    _ = pic.write(port: port, size: 1, value: UInt32(value))
  }

  private func initialize(_ pic: PIC8259Pair, icw4: UInt8 = 0x01, level: Bool = false) {
    for (port, base, icw3) in [(UInt16(0x20), UInt8(0x20), UInt8(0x04)), (0xA0, 0x28, 0x02)] {
      out(pic, port, level ? 0x19 : 0x11)
      out(pic, port + 1, base)
      out(pic, port + 1, icw3)
      out(pic, port + 1, icw4)
    }
  }

  func testInitializationSetsVectorBasesAndClearsTheMask() {
    let pic = PIC8259Pair()
    out(pic, 0x21, 0xFF)
    initialize(pic)
    XCTAssertEqual(pic.master.vectorBase, 0x20)
    XCTAssertEqual(pic.slave.vectorBase, 0x28)
    XCTAssertEqual(pic.read(port: 0x21, size: 1), 0, "ICW1 clears IMR")
    out(pic, 0xA1, 0xF7)  // OCW1 after ICW4
    XCTAssertEqual(pic.read(port: 0xA1, size: 1), 0xF7)
  }

  /// An edge latches IRR; INTA moves it to ISR; EOI ends it; masked lines wait.
  func testEdgeRequestAcknowledgeAndEOI() {
    let pic = PIC8259Pair()
    initialize(pic)
    out(pic, 0x21, 0x02)  // mask IRQ 1
    pic.setLevel(line: 1, high: true)
    XCTAssertFalse(pic.interruptRequested)
    pic.setLevel(line: 3, high: true)
    pic.setLevel(line: 3, high: false)
    XCTAssertTrue(pic.interruptRequested, "the edge is latched")
    out(pic, 0x20, 0x0A)  // OCW3: read IRR
    XCTAssertEqual(pic.read(port: 0x20, size: 1), 0x0A)
    XCTAssertEqual(pic.acknowledge(), 0x23)
    out(pic, 0x20, 0x0B)  // OCW3: read ISR
    XCTAssertEqual(pic.read(port: 0x20, size: 1), 0x08)
    XCTAssertFalse(pic.interruptRequested)
    out(pic, 0x21, 0x00)  // unmask IRQ 1: priority 1 beats 3 in service
    XCTAssertEqual(pic.pendingVector, 0x21)
    XCTAssertEqual(pic.acknowledge(), 0x21)
    out(pic, 0x20, 0x20)  // non-specific EOI ends IRQ 1 (highest in service)
    XCTAssertEqual(pic.read(port: 0x20, size: 1), 0x08)
    out(pic, 0x20, 0x63)  // specific EOI, IR3
    XCTAssertEqual(pic.read(port: 0x20, size: 1), 0x00)
  }

  /// Slave IRQ 11 reaches the processor through the master's IR2 with the slave's vector;
  /// both chips hold it in service until their EOIs.
  func testCascadeDeliversSlaveVectors() {
    let pic = PIC8259Pair.afterFirmware()
    pic.setLevel(line: 11, high: true)
    pic.setLevel(line: 11, high: false)
    XCTAssertEqual(pic.pendingVector, 0x73)
    XCTAssertEqual(pic.acknowledge(), 0x73)
    XCTAssertEqual(pic.master.inService, 0x04)
    XCTAssertEqual(pic.slave.inService, 0x08)
    pic.setLevel(line: 9, high: true)
    XCTAssertNil(pic.pendingVector, "the master's IR2 in service holds the slave back")
    XCTAssertEqual(pic.acknowledge(), 0x0F, "INTA with nothing: the spurious IR7 vector")
    out(pic, 0xA0, 0x20)
    out(pic, 0x20, 0x20)
    XCTAssertEqual(pic.pendingVector, 0x71, "after both EOIs")
    XCTAssertEqual(pic.acknowledge(), 0x71)
  }

  func testAutomaticEOILeavesNothingInService() {
    let pic = PIC8259Pair()
    initialize(pic, icw4: 0x03)
    pic.setLevel(line: 5, high: true)
    XCTAssertEqual(pic.acknowledge(), 0x25)
    XCTAssertEqual(pic.master.inService, 0)
  }

  /// ELCR (and ICW1 LTIM): a level-triggered request follows its line and is not consumed
  /// by INTA.
  func testLevelTriggeredRequestsFollowTheLine() {
    let pic = PIC8259Pair()
    initialize(pic, icw4: 0x03)
    out(pic, 0x4D1, 0xFF)
    XCTAssertEqual(pic.read(port: 0x4D1, size: 1), 0xDE, "IRQ 8 and 13 stay edge")
    pic.setLevel(line: 10, high: true)
    XCTAssertEqual(pic.acknowledge(), 0x2A)
    XCTAssertTrue(pic.interruptRequested, "still high: requested again")
    pic.setLevel(line: 10, high: false)
    XCTAssertFalse(pic.interruptRequested)
  }

  /// OCW3 poll: the next command-port read acknowledges and gives 0x80 | level.
  func testPollCommand() {
    let pic = PIC8259Pair()
    initialize(pic)
    pic.setLevel(line: 6, high: true)
    out(pic, 0x20, 0x0C)
    XCTAssertEqual(pic.read(port: 0x20, size: 1), 0x86)
    XCTAssertEqual(pic.master.inService, 0x40)
  }

  /// Rotation: after rotate-on-EOI of IR4, IR5 has the highest priority.
  func testRotateOnNonSpecificEOI() {
    let pic = PIC8259Pair()
    initialize(pic)
    pic.setLevel(line: 4, high: true)
    XCTAssertEqual(pic.acknowledge(), 0x24)
    out(pic, 0x20, 0xA0)
    pic.setLevel(line: 1, high: true)
    pic.setLevel(line: 5, high: true)
    XCTAssertEqual(pic.acknowledge(), 0x25)
  }

  /// ExtINT: vCPU 0's APIC, software-disabled or with LINT0 = ExtINT, passes the 8259's
  /// vector at INTA; with LINT0 masked on an enabled APIC, nothing passes.
  func testLINT0PassesThePICWhenExtINTOrDisabled() {
    let apic = LocalAPICModel(id: 0, clock: NanosecondClock())
    let pic = PIC8259Pair.afterFirmware()
    apic.externalInterrupts = pic
    pic.setLevel(line: 11, high: true)
    XCTAssertEqual(apic.pendingExternalVector, 0x73, "software-disabled APIC")
    XCTAssertTrue(apic.hasDeliverableInterrupt)
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)
    XCTAssertNil(apic.pendingExternalVector, "LINT0 masked")
    _ = apic.write(offset: 0x350, size: 4, value: 0x700)
    XCTAssertEqual(apic.vectorToOffer(), 0x73)
    apic.offeredVectorTaken(0x73)
    XCTAssertEqual(pic.slave.inService, 0x08, "taken by INTA")
    XCTAssertNil(apic.pendingVector, "nothing entered the APIC")
  }

  func testExtINTInjectionThroughInterruptDelivery() {
    let vcpu = VirtualCPU(index: 0)
    vcpu.localAPIC = LocalAPICModel(id: 0, clock: NanosecondClock())
    let pic = PIC8259Pair.afterFirmware()
    vcpu.localAPIC?.externalInterrupts = pic
    pic.setLevel(line: 3, high: true)
    XCTAssertEqual(
      InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: false), .needsWindow)
    XCTAssertEqual(
      InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: true), .injected(vector: 0x0B))
    XCTAssertEqual(vcpu.pendingEvent, .externalInterrupt(vector: 0x0B))
    XCTAssertFalse(InterruptDelivery.shouldWake(vcpu))
  }
}
