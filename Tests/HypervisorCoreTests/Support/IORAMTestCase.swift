import HypervisorCore
import XCTest

/// Instructions that reach pc-testdev's I/O RAM through the nested-page-fault handler in
/// 64-bit mode. The I/O RAM is identity mapped by TestMachine's long-mode tables at
/// `ioRAMBase`; linear `splitLinear` is a 4 KiB page table whose first page maps the I/O
/// RAM, the second RAM at `ramPage`, and the third is not present.
class IORAMTestCase: MachineTestCase {
  let ioRAMBase: UInt64 = 0xFED1_0000
  let splitLinear: UInt64 = 0x20_0000
  let ramPage: UInt64 = 0x9000

  func ioRAMMachine() -> (TestMachine, PCTestIORAM) {
    let machine = makeMachine()
    machine.enterLongMode()
    let ioRAM = PCTestIORAM()
    machine.vm.mmio.register(ioRAM, base: ioRAMBase, size: PCTestDevice.ioRAMSize)
    let pageTable = TestMachine.pageTableRoot + 0x5000
    machine.writeU64(pageTable | 0x3, at: TestMachine.pageTableRoot + 0x2000 + 8)
    machine.writeU64(ioRAMBase | 0x3, at: pageTable)
    machine.writeU64(ramPage | 0x3, at: pageTable + 8)
    return (machine, ioRAM)
  }

  /// A nested page fault at `address`, with `bytes` at RIP first when given.
  func fault(
    _ machine: TestMachine, at address: UInt64, _ access: NestedPageFault.Access,
    instruction bytes: [UInt8]? = nil
  ) -> ExitOutcome {
    if let bytes { machine.placeInstruction(bytes) }
    return machine.dispatch(
      VMExit(
        reason: .nestedPageFault(NestedPageFault(guestPhysical: address, access: access)),
        instructionLength: nil))
  }
}
