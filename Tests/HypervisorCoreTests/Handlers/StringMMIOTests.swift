import HypervisorCore
import XCTest

/// MOVS/CMPS/LODS/SCAS, XCHG and CMPXCHG through the nested-page-fault handler, against an
/// I/O RAM (pc-testdev's) in 64-bit mode: either operand may be the device, elements are
/// translated one by one through the guest's tables, a REP runs in chunks of at most 64
/// elements per exit, and a chunk ends before an element that is plain RAM or faults.
final class StringMMIOTests: IORAMTestCase {
  private func bytes(_ ioRAM: PCTestIORAM, _ offset: UInt64, _ count: Int) -> [UInt8] {
    (0..<UInt64(count)).map { UInt8(ioRAM.read(offset: offset + $0, size: 1)) }
  }

  func testRepMovsbFromRAMIntoTheDeviceRunsInChunksOfSixtyFour() throws {
    let (machine, ioRAM) = ioRAMMachine()
    machine.write((0..<100).map { UInt8($0 + 1) }, at: 0x8000)
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rsi = 0x8000
    machine.vcpu.registers.rdi = ioRAMBase
    machine.vcpu.registers.rcx = 100
    XCTAssertEqual(fault(machine, at: ioRAMBase, .write, instruction: [0xF3, 0xA4]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rip, rip, "unfinished: executed again")
    XCTAssertEqual(machine.vcpu.registers.rcx, 36)
    XCTAssertEqual(bytes(ioRAM, 63, 2), [64, 0])
    XCTAssertEqual(fault(machine, at: ioRAMBase + 64, .write), .resume)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 2)
    XCTAssertEqual(machine.vcpu.registers.rcx, 0)
    XCTAssertEqual(machine.vcpu.registers.rsi, 0x8000 + 100)
    XCTAssertEqual(bytes(ioRAM, 0, 100), (0..<100).map { UInt8($0 + 1) })
  }

  /// kvm-unit-tests' emulator test: REPE CMPSB over 130 bytes whose 101st differs, with the
  /// device as the source and RAM as the destination, then both in the device.
  func testRepeCmpsbAgainstRAMAndAgainstTheDevice() throws {
    let (machine, ioRAM) = ioRAMMachine()
    for index in 0..<200 {
      let value = UInt64(index)
      _ = ioRAM.write(offset: UInt64(index), size: 1, value: index < 100 ? value : value + 1)
      _ = ioRAM.write(offset: 1024 + UInt64(index), size: 1, value: value)
    }
    machine.write((0..<200).map { UInt8($0) }, at: 0x8000)
    let rip = machine.vcpu.registers.rip
    machine.placeInstruction([0xF3, 0xA6])
    for destination in [0x8000, ioRAMBase + 1024] {
      machine.vcpu.registers.rip = rip
      machine.vcpu.registers.rsi = ioRAMBase
      machine.vcpu.registers.rdi = destination
      machine.vcpu.registers.rcx = 130
      var exits = 0
      while machine.vcpu.registers.rip == rip && exits < 5 {
        XCTAssertEqual(fault(machine, at: machine.vcpu.registers.rsi, .read), .resume)
        exits += 1
      }
      XCTAssertEqual(exits, 2)
      XCTAssertEqual(machine.vcpu.registers.rcx, 29)
      XCTAssertEqual(machine.vcpu.registers.rsi, ioRAMBase + 101)
      XCTAssertEqual(machine.vcpu.registers.rdi, destination + 101)
      XCTAssertEqual(machine.vcpu.registers.rflags & 0x40, 0)
    }
  }

  func testRepneScasbAndLodsOnTheDevice() throws {
    let (machine, ioRAM) = ioRAMMachine()
    _ = ioRAM.write(offset: 0x10, size: 8, value: 0x7766_5544_3322_1100)
    machine.vcpu.registers.rax = 0x44
    machine.vcpu.registers.rdi = ioRAMBase + 0x10
    machine.vcpu.registers.rcx = 8
    let rip = machine.vcpu.registers.rip
    XCTAssertEqual(fault(machine, at: ioRAMBase + 0x10, .read, instruction: [0xF2, 0xAE]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rdi, ioRAMBase + 0x15)
    XCTAssertEqual(machine.vcpu.registers.rcx, 3)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 2)
    // FD-style: DF set, LODSW walks down.
    machine.vcpu.registers.rflags = 0x402
    machine.vcpu.registers.rsi = ioRAMBase + 0x14
    XCTAssertEqual(fault(machine, at: ioRAMBase + 0x14, .read, instruction: [0x66, 0xAD]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rax & 0xFFFF, 0x5544)
    XCTAssertEqual(machine.vcpu.registers.rsi, ioRAMBase + 0x12)
  }

  func testTheChunkEndsBeforeAnElementThatIsPlainRAM() throws {
    let (machine, ioRAM) = ioRAMMachine()
    machine.write([1, 2, 3, 4], at: 0x8000)
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rsi = 0x8000
    machine.vcpu.registers.rdi = splitLinear + 0xFFE  // device, device, then RAM
    machine.vcpu.registers.rcx = 4
    XCTAssertEqual(
      fault(machine, at: ioRAMBase + 0xFFE, .write, instruction: [0xF3, 0xA4]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rcx, 2, "the processor copies the RAM elements")
    XCTAssertEqual(machine.vcpu.registers.rdi, splitLinear + 0x1000)
    XCTAssertEqual(machine.vcpu.registers.rip, rip)
    XCTAssertEqual(bytes(ioRAM, 0xFFE, 2), [1, 2])
    XCTAssertEqual(machine.read(2, at: ramPage), [0, 0])
  }

  func testAnElementCrossingFromTheDeviceIntoRAMIsSplit() throws {
    let (machine, ioRAM) = ioRAMMachine()
    machine.write([0xAA, 0xBB], at: 0x8000)
    machine.vcpu.registers.rsi = 0x8000
    machine.vcpu.registers.rdi = splitLinear + 0xFFF
    // 66 A5: MOVSW; its low byte lands in the device, its high byte in RAM.
    XCTAssertEqual(
      fault(machine, at: ioRAMBase + 0xFFF, .write, instruction: [0x66, 0xA5]), .resume)
    XCTAssertEqual(bytes(ioRAM, 0xFFF, 1), [0xAA])
    XCTAssertEqual(machine.read(1, at: ramPage), [0xBB])
  }

  func testANotPresentDestinationIsTheGuestsPageFaultAtThatElement() throws {
    let (machine, _) = ioRAMMachine()
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rsi = splitLinear  // the device
    machine.vcpu.registers.rdi = splitLinear + 0x1FFF  // RAM's last byte, then not present
    machine.vcpu.registers.rcx = 3
    XCTAssertEqual(fault(machine, at: ioRAMBase, .read, instruction: [0xF3, 0xA4]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rcx, 2, "the first element was copied")
    XCTAssertEqual(machine.vcpu.registers.rip, rip)
    XCTAssertEqual(machine.vcpu.pendingEvent, .pageFault(0x2), "write, not present")
    XCTAssertEqual(machine.guest.faultAddress, splitLinear + 0x2000)
  }

  func testOperandsThatDoNotHoldTheFaultAreReExecuted() throws {
    let (machine, _) = ioRAMMachine()
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rsi = 0x8000
    machine.vcpu.registers.rdi = 0x8100
    machine.vcpu.registers.rcx = 5
    XCTAssertEqual(fault(machine, at: ioRAMBase, .read, instruction: [0xF3, 0xA6]), .resume)
    XCTAssertEqual(machine.vcpu.statistics.decodeMismatches, 1)
    XCTAssertEqual(machine.vcpu.registers.rcx, 5)
    XCTAssertEqual(machine.vcpu.registers.rip, rip)
  }

  func testAStringAccessToNothingStopsTheVM() throws {
    let (machine, _) = ioRAMMachine()
    let nothing: UInt64 = 0xFED2_0000
    machine.writeU64(nothing | 0x3, at: TestMachine.pageTableRoot + 0x5000 + 2 * 8)
    machine.vcpu.registers.rsi = splitLinear + 0x2000
    XCTAssertEqual(
      fault(machine, at: nothing, .read, instruction: [0xAC]),
      .stop(.unmappedAccess(guestPhysical: nothing, access: .read, beyondMemory: true)))
  }

  func testXchgAndCmpxchgOnTheDevice() throws {
    let (machine, ioRAM) = ioRAMMachine()
    _ = ioRAM.write(offset: 0, size: 8, value: 0x0123_4567_89AB_CDEF)
    machine.vcpu.registers.rax = 0xFEDC_BA98_7654_3210
    machine.vcpu.registers.rdi = ioRAMBase
    let rip = machine.vcpu.registers.rip
    // 48 87 07: XCHG [RDI], RAX.
    XCTAssertEqual(fault(machine, at: ioRAMBase, .write, instruction: [0x48, 0x87, 0x07]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rax, 0x0123_4567_89AB_CDEF)
    XCTAssertEqual(ioRAM.read(offset: 0, size: 8), 0xFEDC_BA98_7654_3210)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 3)
    // F0 0F B1 0F: LOCK CMPXCHG [RDI], ECX with EAX = the low dword: stores ECX.
    machine.vcpu.registers.rax = 0x7654_3210
    machine.vcpu.registers.rcx = 0x1111_2222
    XCTAssertEqual(
      fault(machine, at: ioRAMBase, .write, instruction: [0xF0, 0x0F, 0xB1, 0x0F]), .resume)
    XCTAssertEqual(ioRAM.read(offset: 0, size: 8), 0xFEDC_BA98_1111_2222)
    XCTAssertNotEqual(machine.vcpu.registers.rflags & 0x40, 0)
  }
}
