import XCTest

@testable import HypervisorCore

/// MOV to CR0/CR4 that leaves the guest in PAE paging loads the four PDPTEs from CR3
/// (SDM 3A §4.4.1) into a backend that holds them (VT-x with EPT, SDM 3C §27.3.2.4); a
/// present PDPTE with a reserved bit makes the MOV #GP(0) with nothing changed.
final class PAEPointerLoadTests: MachineTestCase {
  private let pdpt: UInt64 = 0x3_0000
  private let pg: UInt64 = 1 << 31
  private let pae: UInt64 = 1 << 5

  private func write(_ register: UInt8, from gpr: UInt8) -> VMExit {
    VMExit(
      reason: .controlRegisterAccess(
        ControlRegisterAccess(register: register, kind: .write, generalRegister: gpr)),
      instructionLength: 3)
  }

  /// 32-bit protected mode, paging off, EFER clear, CR3 at the PDPT and four entries.
  private func makePAEMachine(cr4: UInt64, entries: [UInt64]) -> TestMachine {
    let machine = makeMachine()
    machine.enterProtectedMode32(eip: 0x2000)
    machine.guest.guestMode.cr3 = pdpt
    machine.guest.guestMode.cr4 = cr4
    machine.guest.guestMode.efer = 0
    for slot in machine.guest.vendorMSRs.indices
    where machine.guest.vendorMSRs[slot].index
      == MSRPolicy.efer
    {
      machine.guest.vendorMSRs[slot].value = 0
    }
    for (index, entry) in entries.enumerated() {
      machine.writeU64(entry, at: pdpt + UInt64(index) * 8)
    }
    return machine
  }

  private let goodEntries: [UInt64] = [0x3_1001, 0x3_2001, 0, 0x3_4001]

  func testPagingOnWithPAELoadsThePDPTEs() {
    let machine = makePAEMachine(cr4: pae, entries: goodEntries)
    machine.vcpu.registers.rax = 0x11 | pg
    XCTAssertEqual(machine.dispatch(write(0, from: 0)), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x11 | pg)
    XCTAssertEqual(
      machine.guest.paePointerLoads, [PAEDirectoryPointers(0x3_1001, 0x3_2001, 0, 0x3_4001)])
    XCTAssertEqual(machine.vcpu.registers.rip, 0x2003)
  }

  func testSettingPAEUnderPagingLoadsThePDPTEs() {
    let machine = makePAEMachine(cr4: 0, entries: goodEntries)
    machine.guest.guestMode.cr0 = 0x11 | pg  // 32-bit paging
    machine.vcpu.registers.rcx = pae
    XCTAssertEqual(machine.dispatch(write(4, from: 1)), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.paePointerLoads.count, 1)
  }

  func testAPresentPDPTEWithAReservedBitIsGeneralProtectionAndChangesNothing() {
    // Bit 1 (RW) is reserved in a PDPTE (SDM 3A Table 4-8); so are bits 8:5 and those from
    // MAXPHYADDR up.
    for bad: UInt64 in [0x3_4003, 0x3_4021, 0x3_4101, 1 << 60 | 0x3_4001, 1 << 63 | 0x3_4001] {
      let machine = makePAEMachine(cr4: pae, entries: [0x3_1001, 0, 0, bad])
      machine.vcpu.registers.rax = 0x11 | pg
      XCTAssertEqual(machine.dispatch(write(0, from: 0)), .resume)
      XCTAssertEqual(machine.vcpu.pendingEvent, .generalProtection(0), String(bad, radix: 16))
      XCTAssertEqual(machine.guest.guestMode.cr0, 0x11, "CR0 unchanged")
      XCTAssertEqual(machine.guest.paePointerLoads, [])
      XCTAssertEqual(machine.vcpu.registers.rip, 0x2000, "a fault: RIP stays")
    }
  }

  func testReservedBitsInANonPresentPDPTEAreIgnored() {
    let machine = makePAEMachine(cr4: pae, entries: [0x3_1001, 0xFFFF_FFFF_FFFF_FFFE, 0, 0])
    machine.vcpu.registers.rax = 0x11 | pg
    XCTAssertEqual(machine.dispatch(write(0, from: 0)), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.paePointerLoads.first?.entry1, 0xFFFF_FFFF_FFFF_FFFE)
  }

  func testAPDPTOutsideRAMIsGeneralProtection() {
    let machine = makePAEMachine(cr4: pae, entries: goodEntries)
    machine.guest.guestMode.cr3 = 0x8000_0000  // 2 GiB: no RAM, reads as all ones
    machine.vcpu.registers.rax = 0x11 | pg
    XCTAssertEqual(machine.dispatch(write(0, from: 0)), .resume)
    XCTAssertEqual(machine.vcpu.pendingEvent, .generalProtection(0))
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x11)
  }

  func testEnteringLongModeLoadsNoPDPTEs() {
    // EFER.LME set: paging on enters IA-32e mode, whose walks start at the PML4.
    let machine = makePAEMachine(cr4: pae, entries: [0x3_1003, 0, 0, 0])  // would be #GP in PAE
    machine.guest.guestMode.efer = 1 << 8
    for slot in machine.guest.vendorMSRs.indices
    where machine.guest.vendorMSRs[slot].index
      == MSRPolicy.efer
    {
      machine.guest.vendorMSRs[slot].value = 1 << 8
    }
    machine.vcpu.registers.rax = 0x11 | pg
    XCTAssertEqual(machine.dispatch(write(0, from: 0)), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x11 | pg)
    XCTAssertEqual(machine.guest.paePointerLoads, [])
  }

  func testPagingOffAndUnrelatedBitsLoadNothing() {
    let machine = makePAEMachine(cr4: pae, entries: goodEntries)
    machine.vcpu.registers.rax = 0x11 | 1 << 3  // TS, paging stays off
    XCTAssertEqual(machine.dispatch(write(0, from: 0)), .resume)
    machine.guest.guestMode.cr0 = 0x11 | pg
    machine.vcpu.registers.rax = 0x11 | pg | 1 << 16  // WP only: not a PDPTE-loading bit
    XCTAssertEqual(machine.dispatch(write(0, from: 0)), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.paePointerLoads, [])
  }

  func testABackendThatDoesNotHoldThePDPTEsIsNotAsked() {
    // SVM with nested paging: the processor reads the PDPTEs from memory itself.
    let machine = makePAEMachine(cr4: pae, entries: [0x3_1003, 0, 0, 0])
    machine.guest.holdsPAEPointers = false
    machine.vcpu.registers.rax = 0x11 | pg
    XCTAssertEqual(machine.dispatch(write(0, from: 0)), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x11 | pg)
    XCTAssertEqual(machine.guest.paePointerLoads, [])
  }
}
