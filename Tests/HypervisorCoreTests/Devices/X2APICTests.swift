import HypervisorCore
import XCTest

/// IA32_APIC_BASE modes and the x2APIC MSRs of the local APIC model (SDM 3A §11.12).
final class X2APICTests: XCTestCase {
  private let clock = NanosecondClock()

  private let xAPIC: UInt64 = 0xFEE0_0800
  private let x2APIC: UInt64 = 0xFEE0_0C00
  private let disabled: UInt64 = 0xFEE0_0000

  private func apic(id: UInt8 = 0x25, mode: LocalAPICModel.Mode = .x2APIC) -> LocalAPICModel {
    let apic = LocalAPICModel(id: id, clock: clock)
    if mode == .x2APIC { XCTAssertTrue(apic.setBaseMSR(x2APIC)) }
    if mode == .disabled { XCTAssertTrue(apic.setBaseMSR(disabled)) }
    return apic
  }

  func testAPICBaseAtResetIsXAPICWithBSPOnlyOnVCPUZero() {
    XCTAssertEqual(LocalAPICModel(id: 0, clock: clock).baseMSR, 0xFEE0_0900)
    XCTAssertEqual(LocalAPICModel(id: 1, clock: clock).baseMSR, 0xFEE0_0800)
    XCTAssertEqual(LocalAPICModel(id: 1, clock: clock).mode, .xAPIC)
  }

  /// Figure 11-27: xAPIC -> x2APIC, x2APIC -> disabled, disabled -> xAPIC, xAPIC ->
  /// disabled are legal; x2APIC -> xAPIC, disabled -> x2APIC and EN = 0 with EXTD = 1 #GP.
  func testLegalAndIllegalModeTransitions() {
    let model = apic(id: 0, mode: .xAPIC)
    XCTAssertFalse(model.setBaseMSR(0xFEE0_0400), "invalid: EXTD without EN")
    XCTAssertTrue(model.setBaseMSR(x2APIC))
    XCTAssertEqual(model.mode, .x2APIC)
    XCTAssertEqual(model.baseMSR, 0xFEE0_0D00, "BSP kept")
    XCTAssertFalse(model.setBaseMSR(xAPIC), "x2APIC -> xAPIC")
    XCTAssertEqual(model.mode, .x2APIC, "unchanged by a refused write")
    XCTAssertTrue(model.setBaseMSR(disabled))
    XCTAssertEqual(model.mode, .disabled)
    XCTAssertFalse(model.setBaseMSR(x2APIC), "disabled -> x2APIC")
    XCTAssertTrue(model.setBaseMSR(xAPIC))
    XCTAssertEqual(model.mode, .xAPIC)
    XCTAssertTrue(model.setBaseMSR(disabled))
    XCTAssertFalse(model.setBaseMSR(xAPIC | 1 << 9), "reserved bit 9")
    XCTAssertFalse(model.setBaseMSR(xAPIC | 1 << 60), "reserved high bits")
    XCTAssertTrue(model.setBaseMSR(0xFEC0_0800), "another base: accepted")
    XCTAssertEqual(model.baseMSR, 0xFEC0_0900, "and kept (§11.4.5), BSP too")
    XCTAssertEqual(model.mmioBase, 0xFEC0_0000)
  }

  /// The address bits from MAXPHYADDR up are reserved (§11.4.4; kvm-unit-tests' "apicbase:
  /// reserved physaddr bits" sets bit MAXPHYADDR); below it they are the base.
  func testAddressBitsFromMAXPHYADDRUpAreReserved() {
    let model = apic(id: 0, mode: .xAPIC)
    XCTAssertFalse(model.setBaseMSR(xAPIC | 1 << 39, physicalAddressBits: 39))
    XCTAssertEqual(model.baseMSR, 0xFEE0_0900, "unchanged")
    XCTAssertTrue(model.setBaseMSR(xAPIC | 1 << 38, physicalAddressBits: 39))
    XCTAssertEqual(model.mmioBase, 1 << 38 | 0xFEE0_0000)
    XCTAssertFalse(model.setBaseMSR(xAPIC | 1 << 51, physicalAddressBits: 48))
    XCTAssertTrue(model.setBaseMSR(xAPIC | 1 << 51), "52 bits by default")
  }

  /// The vCPU's MMIO entry follows the base, through WRMSR (MSRHandler) and restore.
  func testTheVCPUsPageFollowsTheBase() {
    let vcpu = VirtualCPU(index: 0)
    vcpu.localAPIC = apic(id: 0, mode: .xAPIC)
    XCTAssertNotNil(vcpu.localDevices.entry(for: 0xFEE0_0030))
    XCTAssertTrue(vcpu.localAPIC!.setBaseMSR(disabled))
    XCTAssertTrue(vcpu.localAPIC!.setBaseMSR(0xFED4_0000 | LocalAPICModel.globalEnable))
    vcpu.placeLocalAPIC()
    XCTAssertNil(vcpu.localDevices.entry(for: 0xFEE0_0030), "the old page is free")
    let entry = vcpu.localDevices.entry(for: 0xFED4_0030)
    XCTAssertEqual(entry?.base, 0xFED4_0000)
    XCTAssertEqual(
      entry?.device.read(offset: 0x30, size: 4), vcpu.localAPIC!.read(offset: 0x30, size: 4))
    let copy = apic(id: 0, mode: .xAPIC)
    copy.restore(vcpu.localAPIC!.save())
    XCTAssertEqual(copy.mmioBase, 0xFED4_0000, "the base survives save and restore")
  }

  func testDisablingResetsAndSilencesTheAPIC() {
    let model = apic(mode: .xAPIC)
    _ = model.write(offset: 0xF0, size: 4, value: 0x1FF)
    model.request(0x40)
    XCTAssertEqual(model.pendingVector, 0x40)
    XCTAssertTrue(model.setBaseMSR(disabled))
    XCTAssertNil(model.pendingVector)
    model.request(0x41)
    XCTAssertNil(model.pendingVector, "globally disabled: delivers nothing")
  }

  func testTheMMIOPageIsIgnoredInX2APICMode() {
    let model = apic()
    XCTAssertEqual(model.read(offset: 0x20, size: 4), UInt64.max)
    _ = model.write(offset: 0x80, size: 4, value: 0x30)
    XCTAssertEqual(model.readX2APIC(0x808), 0, "TPR not written through MMIO")
    XCTAssertNil(apic(mode: .xAPIC).readX2APIC(0x802), "x2APIC MSRs #GP in xAPIC mode")
    XCTAssertFalse(apic(mode: .xAPIC).writeX2APIC(0x808, 0))
  }

  func testIdentificationRegisters() {
    let model = apic(id: 0x25)
    XCTAssertEqual(model.readX2APIC(0x802), 0x25, "32-bit x2APIC ID")
    XCTAssertEqual(model.readX2APIC(0x803), 0x0005_0014, "version 0x14, six LVT entries")
    XCTAssertEqual(model.readX2APIC(0x80D), 0x0002_0020, "LDR: cluster 2, bit 5")
    XCTAssertFalse(model.writeX2APIC(0x802, 0), "ID read-only")
    XCTAssertFalse(model.writeX2APIC(0x803, 0), "version read-only")
    XCTAssertFalse(model.writeX2APIC(0x80D, 0), "LDR read-only")
    XCTAssertEqual(apic(id: 0).readX2APIC(0x80D), 1)
    XCTAssertEqual(apic(id: 31).readX2APIC(0x80D), 0x0001_8000)
  }

  func testPriorityEOIAndTheInterruptBitmaps() {
    let model = apic()
    XCTAssertTrue(model.writeX2APIC(0x80F, 0x1FF))  // software enable
    XCTAssertEqual(model.readX2APIC(0x80F), 0x1FF)
    XCTAssertTrue(model.writeX2APIC(0x808, 0x20))
    XCTAssertEqual(model.readX2APIC(0x808), 0x20)
    XCTAssertFalse(model.writeX2APIC(0x808, 0x100), "TPR reserved bits")
    model.request(0x45)
    XCTAssertEqual(model.readX2APIC(0x822), 1 << 5, "IRR word 2: vector 0x45")
    model.acknowledge(0x45)
    XCTAssertEqual(model.readX2APIC(0x812), 1 << 5, "ISR word 2")
    XCTAssertEqual(model.readX2APIC(0x80A), 0x40, "PPR: the in-service class")
    XCTAssertFalse(model.writeX2APIC(0x80B, 1), "EOI: only 0")
    XCTAssertEqual(model.readX2APIC(0x812), 1 << 5, "not ended by the refused write")
    XCTAssertTrue(model.writeX2APIC(0x80B, 0))
    XCTAssertEqual(model.readX2APIC(0x812), 0)
    XCTAssertNil(model.readX2APIC(0x80B), "EOI is write-only")
    XCTAssertFalse(model.writeX2APIC(0x812, 0), "ISR read-only")
    XCTAssertFalse(model.writeX2APIC(0x822, 0), "IRR read-only")
    XCTAssertEqual(model.readX2APIC(0x828), 0)
    XCTAssertTrue(model.writeX2APIC(0x828, 0))
    XCTAssertFalse(model.writeX2APIC(0x828, 1), "ESR: only 0")
  }

  func testICRIsOne64BitWriteWithTheDestinationInTheUpperHalf() {
    let model = apic()
    XCTAssertTrue(model.writeX2APIC(0x830, 0x0000_0101_0000_4500))  // INIT to x2APIC ID 0x101
    XCTAssertTrue(model.writeX2APIC(0x830, 0x0003_0000_0000_0831))  // logical, 0x31
    XCTAssertEqual(model.readX2APIC(0x830), 0x0003_0000_0000_0831)
    XCTAssertFalse(model.writeX2APIC(0x830, 1 << 12), "bit 12 reserved in x2APIC mode")
    XCTAssertFalse(model.writeX2APIC(0x830, 1 << 20), "bits 31:20 reserved")
    XCTAssertNil(model.readX2APIC(0x831), "no ICR high in x2APIC mode")
    XCTAssertEqual(
      model.takeOutgoing(),
      [
        InterprocessorInterrupt(delivery: .initSignal, destination: .x2APICPhysical(0x101)),
        InterprocessorInterrupt(
          delivery: .fixed(vector: 0x31, lowestPriority: false),
          destination: .x2APICLogical(0x3_0000)),
      ])
  }

  func testSelfIPIRequestsTheVectorHere() {
    let model = apic()
    XCTAssertTrue(model.writeX2APIC(0x80F, 0x1FF))
    XCTAssertTrue(model.writeX2APIC(0x83F, 0x66))
    XCTAssertEqual(model.pendingVector, 0x66)
    XCTAssertTrue(model.outgoing.isEmpty, "nothing to route")
    XCTAssertFalse(model.writeX2APIC(0x83F, 0x166), "reserved bits")
    XCTAssertNil(model.readX2APIC(0x83F), "write-only")
  }

  func testLVTAndTimerRegisters() {
    let model = apic()
    XCTAssertTrue(model.writeX2APIC(0x80F, 0x1FF))
    XCTAssertTrue(model.writeX2APIC(0x83E, 0xB))  // divide by 1
    XCTAssertTrue(model.writeX2APIC(0x832, 0x30))  // timer, one-shot, vector 0x30
    XCTAssertTrue(model.writeX2APIC(0x838, 1_000_000))
    XCTAssertEqual(model.readX2APIC(0x838), 1_000_000)
    XCTAssertEqual(model.readX2APIC(0x839), 1_000_000)
    XCTAssertFalse(model.writeX2APIC(0x839, 0), "current count read-only")
    clock.now += 1_000_000
    XCTAssertTrue(model.pollTimer())
    XCTAssertEqual(model.pendingVector, 0x30)
    XCTAssertTrue(model.writeX2APIC(0x837, 0x1_00FE))  // LVT error
    XCTAssertEqual(model.readX2APIC(0x837), 0x1_00FE)
    XCTAssertEqual(model.readX2APIC(0x83E), 0xB)
  }

  func testReservedAndAbsentRegistersRaiseGeneralProtection() {
    let model = apic()
    for index: UInt32 in [
      0x800, 0x801, 0x804, 0x809, 0x80C, 0x80E, 0x82F, 0x831, 0x83A, 0x840, 0x8FF,
    ] {
      XCTAssertNil(model.readX2APIC(index), "read of \(String(index, radix: 16))")
      XCTAssertFalse(model.writeX2APIC(index, 0), "write of \(String(index, radix: 16))")
    }
    XCTAssertFalse(model.writeX2APIC(0x808, 1 << 32), "upper half reserved")
  }
}

/// The x2APIC through RDMSR/WRMSR: MSRPolicy routes 0x800-0x8FF to the vCPU's APIC.
final class X2APICMSRTests: MachineTestCase {
  private func access(_ machine: TestMachine, _ index: UInt32, write value: UInt64? = nil)
    -> UInt64?
  {
    let vcpu = machine.vcpu
    vcpu.registers.rcx = UInt64(index)
    vcpu.pendingEvent = nil
    if let value { vcpu.registers.edxEax = value }
    let reason: ExitReason = value == nil ? .msrRead : .msrWrite
    XCTAssertEqual(machine.dispatch(VMExit(reason: reason, instructionLength: 2)), .resume)
    if vcpu.pendingEvent == .generalProtection(0) { return nil }
    return vcpu.registers.edxEax
  }

  func testTheGuestSwitchesToX2APICAndUsesItsMSRs() {
    let machine = makeMachine()
    machine.vcpu.localAPIC = LocalAPICModel(id: 0, clock: NanosecondClock())
    XCTAssertNil(access(machine, 0x802), "#GP in xAPIC mode")
    XCTAssertNotNil(access(machine, MSRPolicy.apicBase, write: 0xFEE0_0D00))
    XCTAssertEqual(access(machine, MSRPolicy.apicBase), 0xFEE0_0D00)
    XCTAssertEqual(access(machine, 0x802), 0)
    XCTAssertNotNil(access(machine, 0x80F, write: 0x1FF))
    XCTAssertNotNil(access(machine, 0x830, write: 0x4_0000 | 0x55))  // self, fixed
    XCTAssertEqual(machine.vcpu.localAPIC!.outgoing.count, 1)
    XCTAssertNil(access(machine, 0x80B, write: 5), "EOI with a non-zero value")
    XCTAssertNil(access(machine, 0x8FF))
    XCTAssertNil(access(machine, MSRPolicy.apicBase, write: 0xFEE0_0900), "x2APIC -> xAPIC")
  }

  func testX2APICMSRsNeedAModelledLocalAPIC() {
    let machine = makeMachine()
    XCTAssertNil(access(machine, 0x802))
    XCTAssertNil(access(machine, 0x80B, write: 0))
  }
}
