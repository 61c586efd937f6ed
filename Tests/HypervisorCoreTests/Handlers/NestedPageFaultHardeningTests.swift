import HypervisorCore
import XCTest

/// An MMIO device that records its accesses and reads as a fixed pattern.
final class RecordingMMIODevice: MMIODevice {
  var reads: [(offset: UInt64, size: UInt8)] = []
  var writes: [(offset: UInt64, size: UInt8, value: UInt64)] = []
  let pattern: UInt64

  init(pattern: UInt64 = 0x8877_6655_4433_2211) { self.pattern = pattern }

  func read(offset: UInt64, size: UInt8) -> UInt64 {
    reads.append((offset, size))
    return size >= 8 ? pattern : pattern & ((1 << (UInt64(size) * 8)) - 1)
  }

  func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    writes.append((offset, size, value))
    return .none
  }
}

/// Bounded string emulation, event delivery through MMIO, decoded-operand checks and
/// accesses that straddle a device's end (docs/hardening.md).
final class NestedPageFaultHardeningTests: MachineTestCase {
  private let device = TestMMIODevice.defaultBase
  private let chunk = MemoryAccessEmulator.maximumIterationsPerExit

  private func fault(
    _ machine: TestMachine, at address: UInt64, _ access: NestedPageFault.Access,
    instruction bytes: [UInt8], linear: UInt64? = nil, interrupted vector: UInt8? = nil
  ) -> ExitOutcome {
    machine.placeInstruction(bytes)
    return machine.dispatch(
      VMExit(
        reason: .nestedPageFault(
          NestedPageFault(guestPhysical: address, guestLinear: linear, access: access)),
        interruptedEventVector: vector))
  }

  private func longMode(unmapped: VMProfile.UnmappedAccessPolicy = .stop) -> TestMachine {
    let machine = makeMachine(unmapped: unmapped)
    machine.enterLongMode()
    return machine
  }

  // MARK: REP STOS in bounded chunks

  func testRepStosWithAllOnesCountDoesOneChunkAndKeepsRIP() throws {
    let machine = longMode()
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rcx = ~0
    machine.vcpu.registers.rdi = device + 8
    // F3 AA: REP STOSB, RCX = -1.
    XCTAssertEqual(fault(machine, at: device + 8, .write, instruction: [0xF3, 0xAA]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).accesses, chunk)
    XCTAssertEqual(machine.vcpu.registers.rcx, ~0 - chunk)
    XCTAssertEqual(machine.vcpu.registers.rdi, device + 8 + chunk)
    XCTAssertEqual(machine.vcpu.registers.rip, rip, "an interrupted REP stays on the instruction")
  }

  func testThirtyTwoBitRepStosCountsECXAndEDI() throws {
    let machine = makeMachine()
    machine.enterProtectedMode32(eip: 0x8000)
    machine.vcpu.registers.rcx = 0xFFFF_FFFF
    machine.vcpu.registers.rdi = device + 8
    // F3 AB: REP STOSD.
    XCTAssertEqual(fault(machine, at: device + 8, .write, instruction: [0xF3, 0xAB]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).accesses, chunk)
    XCTAssertEqual(machine.vcpu.registers.rcx, 0xFFFF_FFFF - chunk)
    XCTAssertEqual(machine.vcpu.registers.rdi, device + 8 + 4 * chunk)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x8000)
  }

  func testRepStosStopsAtTheEndOfTheDevice() throws {
    let machine = longMode()
    machine.vcpu.registers.rcx = 100
    machine.vcpu.registers.rdi = device + 0xFF0
    let rip = machine.vcpu.registers.rip
    // F3 48 AB: REP STOSQ: two quadwords fit before the device ends at +0x1000.
    XCTAssertEqual(
      fault(machine, at: device + 0xFF0, .write, instruction: [0xF3, 0x48, 0xAB]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).accesses, 2)
    XCTAssertEqual(machine.vcpu.registers.rcx, 98)
    XCTAssertEqual(machine.vcpu.registers.rdi, device + 0x1000)
    XCTAssertEqual(machine.vcpu.registers.rip, rip)
  }

  func testRepStosDownwardStopsAtTheStartOfTheDevice() throws {
    let machine = longMode()
    machine.vcpu.registers.rflags |= 1 << 10  // DF
    machine.vcpu.registers.rcx = 100
    machine.vcpu.registers.rdi = device + 0x10
    machine.vcpu.registers.rax = 0x1122_3344_5566_7788
    // F3 48 AB: REP STOSQ downward: +0x10, +0x8, +0x0.
    XCTAssertEqual(
      fault(machine, at: device + 0x10, .write, instruction: [0xF3, 0x48, 0xAB]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).accesses, 3)
    XCTAssertEqual(machine.testDevice?.scratch, 0x1122_3344_5566_7788)
    XCTAssertEqual(machine.vcpu.registers.rcx, 97)
    XCTAssertEqual(machine.vcpu.registers.rdi, device &- 8)
  }

  func testSixteenBitRepStosWrapsCXAndKeepsTheUpperBits() throws {
    let machine = makeMachine()
    machine.enterRealMode(cs: 0x0800, ip: 0x0010)
    machine.guest.guestMode.extraSegmentBase = device
    machine.vcpu.registers.rcx = 0xABCD_0000_0000_FFFF
    machine.vcpu.registers.rdi = 0x1234_0000_0000_0FF0
    // F3 AA: REP STOSB with CX and DI; 16 bytes are left in the device.
    XCTAssertEqual(fault(machine, at: device + 0xFF0, .write, instruction: [0xF3, 0xAA]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).accesses, 16)
    XCTAssertEqual(machine.vcpu.registers.rcx, 0xABCD_0000_0000_FFEF)
    XCTAssertEqual(machine.vcpu.registers.rdi, 0x1234_0000_0000_1000)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x10)
  }

  func testRepStosThatFinishesInsideTheChunkMovesRIP() throws {
    let machine = longMode()
    machine.vcpu.registers.rcx = 3
    machine.vcpu.registers.rdi = device + 8
    let rip = machine.vcpu.registers.rip
    XCTAssertEqual(fault(machine, at: device + 8, .write, instruction: [0xF3, 0xAA]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rcx, 0)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 2)
  }

  // MARK: Event delivery

  func testFaultWhileDeliveringAnEventStopsWithoutEmulatingRIP() throws {
    let machine = longMode()
    machine.vcpu.registers.rdi = device
    machine.vcpu.registers.rax = 0x1234
    let rip = machine.vcpu.registers.rip
    // The instruction at RIP (MOV EAX, [RDI]) raised #GP; the IDT lies in the device.
    XCTAssertEqual(
      fault(machine, at: device + 13 * 16, .read, instruction: [0x8B, 0x07], interrupted: 13),
      .stop(.eventDeliveryFailed(vector: 13, guestPhysical: device + 13 * 16)))
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).accesses, 0)
    XCTAssertEqual(machine.vcpu.registers.rax, 0x1234)
    XCTAssertEqual(machine.vcpu.registers.rip, rip)
  }

  // MARK: Decoded instruction against the fault

  func testOperandAtAnotherAddressIsNotEmulated() throws {
    let machine = longMode()
    machine.vcpu.registers.rdi = 0x1000  // RAM, not the device
    machine.vcpu.registers.rax = 0x55
    let rip = machine.vcpu.registers.rip
    // 89 07: MOV [RDI], EAX; the processor faulted at the device, so it ran other bytes.
    XCTAssertEqual(fault(machine, at: device + 8, .write, instruction: [0x89, 0x07]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).accesses, 0)
    XCTAssertEqual(machine.vcpu.registers.rip, rip)
    XCTAssertEqual(machine.vcpu.statistics.decodeMismatches, 1)
  }

  func testReportedLinearAddressMustMatchTheOperand() throws {
    let machine = longMode()
    machine.vcpu.registers.rdi = device + 8
    let rip = machine.vcpu.registers.rip
    // VMX reports the guest-linear address: the alias at 1 GiB + 2 MiB is not [RDI].
    XCTAssertEqual(
      fault(
        machine, at: device + 8, .read, instruction: [0x8B, 0x07], linear: 0x4030_0008),
      .resume)
    XCTAssertEqual(machine.vcpu.registers.rip, rip)
    XCTAssertEqual(machine.vcpu.statistics.decodeMismatches, 1)
    XCTAssertEqual(
      fault(machine, at: device + 8, .read, instruction: [0x8B, 0x07], linear: device + 8),
      .resume)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 2)
  }

  func testAliasedLinearPageReachesTheDevice() throws {
    let machine = longMode()
    machine.vcpu.registers.rsi = 0x4030_0000  // enterLongMode maps it to the device page
    // 8B 46 08: MOV EAX, [RSI+8].
    machine.vcpu.registers.rax = ~0
    XCTAssertEqual(
      fault(machine, at: device + 8, .read, instruction: [0x8B, 0x46, 0x08]), .resume)
    XCTAssertEqual(machine.vcpu.statistics.decodeMismatches, 0)
    XCTAssertEqual(machine.vcpu.registers.rax, 0, "the scratch register, zero-extended")
  }

  // MARK: Accesses that straddle a device's end

  func testReadStraddlingIntoTheNextDeviceIsSplit() throws {
    let machine = longMode()
    let next = RecordingMMIODevice(pattern: 0xABCD)
    machine.vm.mmio.register(next, base: device + 0x1000, size: 0x1000)
    machine.vcpu.registers.rdi = device + 0xFFE
    // 8B 07: MOV EAX, [RDI]: two bytes of the test device (beyond its registers: all ones),
    // two of the next device's offset 0.
    XCTAssertEqual(fault(machine, at: device + 0xFFE, .read, instruction: [0x8B, 0x07]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rax, 0xABCD_FFFF)
    XCTAssertEqual(next.reads.map { $0.offset }, [0])
    XCTAssertEqual(next.reads.map { $0.size }, [2])
  }

  func testWriteStraddlingIntoTheNextDeviceIsSplit() throws {
    let machine = longMode()
    let next = RecordingMMIODevice()
    machine.vm.mmio.register(next, base: device + 0x1000, size: 0x1000)
    machine.vcpu.registers.rdi = device + 0xFFF
    machine.vcpu.registers.rax = 0xDDCC_BBAA
    // 89 07: MOV [RDI], EAX: one byte to the test device, three to the next.
    XCTAssertEqual(fault(machine, at: device + 0xFFF, .write, instruction: [0x89, 0x07]), .resume)
    XCTAssertEqual(next.writes.count, 2, "a 2-byte and a 1-byte access")
    XCTAssertEqual(next.writes.first?.value, 0xCCBB)
    XCTAssertEqual(next.writes.last?.value, 0xDD)
    XCTAssertEqual(next.writes.last?.offset, 2)
  }

  func testReadStraddlingIntoNothingStopsUnderUnmappedStop() {
    let machine = longMode()
    machine.vcpu.registers.rdi = device + 0xFFE
    XCTAssertEqual(
      fault(machine, at: device + 0xFFE, .read, instruction: [0x8B, 0x07]),
      .stop(.unmappedAccess(guestPhysical: device + 0x1000, access: .read, beyondMemory: true)))
  }

  func testReadStraddlingIntoNothingReadsOnesThereUnderIgnore() {
    let machine = longMode(unmapped: .ignore)
    // Beyond the test device's registers and past its end: all ones either way, counted.
    machine.vcpu.registers.rdi = device + 0xFFE
    machine.vcpu.registers.rax = 0
    XCTAssertEqual(fault(machine, at: device + 0xFFE, .read, instruction: [0x8B, 0x07]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rax, 0xFFFF_FFFF)
    XCTAssertEqual(machine.vcpu.statistics.decodeMismatches, 0)
  }

  // MARK: The guest's own paging protection (SDM 3A §4.6, §4.7)

  /// Long mode with the identity mapping of the device's 2 MiB page given `flags`; the
  /// PML4 and PDPT entries above it are user and writable, so the leaf decides.
  private func deviceMapped(
    flags: UInt64, cpl: UInt8, writeProtect: Bool = false,
    unmapped: VMProfile.UnmappedAccessPolicy = .ignore
  ) -> TestMachine {
    let machine = longMode(unmapped: unmapped)
    let pml4 = TestMachine.pageTableRoot
    let pdpt = pml4 + 0x1000
    let pdDevice = pml4 + 0x4000
    machine.writeU64(pdpt | 0x7, at: pml4)
    machine.writeU64(pdDevice | 0x7, at: pdpt + 3 * 8)
    let devicePage: UInt64 = 0xFEC0_0000
    machine.writeU64(devicePage | 0x80 | flags, at: pdDevice + ((devicePage >> 21) & 511) * 8)
    machine.guest.cpl = cpl
    if writeProtect { machine.guest.guestMode.cr0 |= 1 << 16 }
    return machine
  }

  private func assertPageFault(
    _ machine: TestMachine, code: UInt32, at linear: UInt64, rip: UInt64,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(
      machine.vcpu.pendingEvent, .exception(vector: 14, errorCode: code), file: file, line: line)
    XCTAssertEqual(machine.guest.faultAddress, linear, "CR2", file: file, line: line)
    XCTAssertEqual(
      machine.vcpu.faultAddress, linear, "CR2 in the register file (VMX)", file: file, line: line)
    XCTAssertEqual(machine.vcpu.registers.rip, rip, "RIP stays", file: file, line: line)
    XCTAssertEqual(machine.testDevice?.accesses, 0, "nothing emulated", file: file, line: line)
  }

  func testUserReadOfASupervisorPageIsAPageFault() {
    let machine = deviceMapped(flags: 0x3, cpl: 3)  // P | R/W, supervisor
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rdi = device + 8
    machine.vcpu.registers.rax = 0x1234
    // 8B 07: MOV EAX, [RDI].
    XCTAssertEqual(fault(machine, at: device + 8, .read, instruction: [0x8B, 0x07]), .resume)
    assertPageFault(machine, code: 0x5, at: device + 8, rip: rip)  // P | U/S
    XCTAssertEqual(machine.vcpu.registers.rax, 0x1234, "the destination is untouched")
  }

  func testUserReadOfNothingOnASupervisorPageIsAPageFaultUnderIgnore() {
    // The fuzzer's case: no device, unmapped=ignore, CPL 3, a supervisor page.
    let machine = deviceMapped(flags: 0x3, cpl: 3)
    let rip = machine.vcpu.registers.rip
    let nothing = device + 0x2_0000
    machine.vcpu.registers.rdi = nothing
    XCTAssertEqual(fault(machine, at: nothing, .read, instruction: [0x8B, 0x07]), .resume)
    assertPageFault(machine, code: 0x5, at: nothing, rip: rip)
    XCTAssertEqual(machine.vcpu.statistics.unmappedMMIOAccesses, 0)
  }

  func testUserReadOfNothingOnASupervisorPageIsAPageFaultUnderStop() {
    // The processor's own check comes before the bus: #PF, not the unmapped-access stop.
    let machine = deviceMapped(flags: 0x3, cpl: 3, unmapped: .stop)
    let rip = machine.vcpu.registers.rip
    let nothing = device + 0x2_0000
    machine.vcpu.registers.rdi = nothing
    XCTAssertEqual(fault(machine, at: nothing, .read, instruction: [0x8B, 0x07]), .resume)
    assertPageFault(machine, code: 0x5, at: nothing, rip: rip)
    // Allowed (CPL 0), the same access stops the VM as before.
    machine.vcpu.pendingEvent = nil
    machine.guest.cpl = 0
    XCTAssertEqual(
      fault(machine, at: nothing, .read, instruction: [0x8B, 0x07]),
      .stop(.unmappedAccess(guestPhysical: nothing, access: .read, beyondMemory: true)))
  }

  func testUserWriteToAReadOnlyPageIsAPageFault() {
    let machine = deviceMapped(flags: 0x5, cpl: 3)  // P | U/S, read-only
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rdi = device + 0x10
    // 89 07: MOV [RDI], EAX.
    XCTAssertEqual(fault(machine, at: device + 0x10, .write, instruction: [0x89, 0x07]), .resume)
    assertPageFault(machine, code: 0x7, at: device + 0x10, rip: rip)  // P | W | U/S
  }

  func testSupervisorWriteToAReadOnlyPageWithWriteProtectIsAPageFault() {
    let machine = deviceMapped(flags: 0x1, cpl: 0, writeProtect: true)
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rdi = device + 0x10
    XCTAssertEqual(fault(machine, at: device + 0x10, .write, instruction: [0x89, 0x07]), .resume)
    assertPageFault(machine, code: 0x3, at: device + 0x10, rip: rip)  // P | W
  }

  func testSupervisorWriteToAReadOnlyPageWithoutWriteProtectIsEmulated() {
    let machine = deviceMapped(flags: 0x1, cpl: 0, writeProtect: false)
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rdi = device + 0x10
    XCTAssertEqual(fault(machine, at: device + 0x10, .write, instruction: [0x89, 0x07]), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.testDevice?.accesses, 1)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 2)
  }

  func testUserAccessToAUserWritablePageIsEmulated() {
    let machine = deviceMapped(flags: 0x7, cpl: 3, writeProtect: true)
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rdi = device + 0x10
    XCTAssertEqual(fault(machine, at: device + 0x10, .write, instruction: [0x89, 0x07]), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertNil(machine.guest.faultAddress)
    XCTAssertEqual(machine.testDevice?.accesses, 1)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 2)
  }

  func testSupervisorReadOfAUserPageUnderSMAPNeedsAlignmentCheck() {
    let machine = deviceMapped(flags: 0x7, cpl: 0)
    machine.guest.guestMode.cr4 |= 1 << 21  // CR4.SMAP
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rdi = device + 8
    XCTAssertEqual(fault(machine, at: device + 8, .read, instruction: [0x8B, 0x07]), .resume)
    assertPageFault(machine, code: 0x1, at: device + 8, rip: rip)
    // With RFLAGS.AC = 1 the explicit access is allowed (SDM 3A §4.6.1).
    machine.vcpu.pendingEvent = nil
    machine.vcpu.registers.rflags |= 1 << 18
    XCTAssertEqual(fault(machine, at: device + 8, .read, instruction: [0x8B, 0x07]), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 2)
  }

  func testSecondPageOfAStraddlingAccessIsChecked() {
    // The device's page is user; the page after it (linear device + 2 MiB) is supervisor.
    let machine = deviceMapped(flags: 0x7, cpl: 3)
    let pdDevice = TestMachine.pageTableRoot + 0x4000
    let next: UInt64 = 0xFEE0_0000
    machine.writeU64(next | 0x83, at: pdDevice + ((next >> 21) & 511) * 8)
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rdi = next - 2
    XCTAssertEqual(fault(machine, at: next - 2, .read, instruction: [0x8B, 0x07]), .resume)
    XCTAssertEqual(machine.vcpu.pendingEvent, .exception(vector: 14, errorCode: 0x5))
    XCTAssertEqual(machine.guest.faultAddress, next, "CR2: the first byte in the faulting page")
    XCTAssertEqual(machine.vcpu.registers.rip, rip)
  }

  /// The guest fuzzer's STRADDLE_4G case in small: an access that runs from the device's page
  /// onto a page the guest does not map is the guest's not-present #PF there, with nothing
  /// done; before, it was re-executed as a stale TLB until the storm detector stopped the VM.
  func testSecondPageNotMappedByTheGuestIsANotPresentPageFault() {
    let machine = deviceMapped(flags: 0x7, cpl: 0)
    let pdDevice = TestMachine.pageTableRoot + 0x4000
    let next: UInt64 = 0xFEE0_0000
    machine.writeU64(0, at: pdDevice + ((next >> 21) & 511) * 8)  // not present
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rdi = next - 2
    // 89 07: MOV [RDI], EAX: a write, at CPL 0.
    XCTAssertEqual(fault(machine, at: next - 2, .write, instruction: [0x89, 0x07]), .resume)
    assertPageFault(machine, code: 0x2, at: next, rip: rip)  // P = 0, W/R = 1
    XCTAssertEqual(machine.vcpu.statistics.decodeMismatches, 0)
  }

  func testReportedLinearAddressWithinAPageNeedsNoWalk() {
    // VMX reports the linear address only after the processor's own checks passed.
    let machine = deviceMapped(flags: 0x3, cpl: 3)
    machine.vcpu.registers.rdi = device + 8
    XCTAssertEqual(
      fault(machine, at: device + 8, .read, instruction: [0x8B, 0x07], linear: device + 8),
      .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.testDevice?.accesses, 1)
  }
}
