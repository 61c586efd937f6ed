import HypervisorCore
import XCTest

/// The #GP(0) conditions of MOV to CR0/CR4 (SDM 2B MOV CR) and the CR4 bits each CPUID
/// feature flag allows (SDM 3A §2.5).
final class ControlRegisterRulesTests: XCTestCase {
  typealias Rules = ControlRegisterRules

  /// The fake AMD host: leaf 1 EDX 0x178BFBFF (VME, DE, PSE, TSC, PAE, MCE, PGE, FXSR),
  /// ECX with VMX and XSAVE; no leaf 7 answer (zeros).
  let rules = Rules.offered(byHost: { leaf, _ in
    for entry in FakeGuestState.standardCPUID where entry.leaf == leaf { return entry.value }
    return CPUIDLeaf()
  })

  func testOfferedBitsFollowTheGuestCPUID() {
    XCTAssertEqual(
      rules.allowedCR4,
      Rules.vme | Rules.pvi | Rules.tsd | Rules.de | Rules.pse | Rules.pae | Rules.mce | Rules.pge
        | Rules.pce | Rules.osfxsr | Rules.osxmmexcpt)
  }

  /// CR4.PKE only where the policy passes the host's PKU, CR4.PKS only with its PKS.
  func testPKEAndPKSFollowTheHostsPKUAndPKS() {
    XCTAssertEqual(rules.allowedCR4 & Rules.pke, 0, "no leaf 7 on the fake host")
    let withPKU = Rules.offered(byHost: { leaf, _ in
      if leaf == 7 { return CPUIDLeaf(ecx: CPUIDPolicy.pku) }
      for entry in FakeGuestState.standardCPUID where entry.leaf == leaf { return entry.value }
      return CPUIDLeaf()
    })
    XCTAssertNotEqual(withPKU.allowedCR4 & Rules.pke, 0)
    XCTAssertEqual(withPKU.allowedCR4 & Rules.pks, 0, "no PKS on this host")
    XCTAssertEqual(rules.allowedCR4 & Rules.pks, 0)
    let mode = GuestMode(width: .protected32, cr0: 0x11)
    XCTAssertTrue(withPKU.permitsCR4(Rules.pke, state: mode))
    XCTAssertFalse(rules.permitsCR4(Rules.pke, state: mode))
  }

  func testXSAVEHiddenByThePolicyMeansNoOSXSAVE() {
    XCTAssertEqual(rules.allowedCR4 & Rules.osxsave, 0)
  }

  func testVMXEAndSMXEAreNeverOffered() {
    let everything = Rules.offered(by: { _, _ in
      CPUIDLeaf(eax: 0xFFFF_FFFF, ebx: 0xFFFF_FFFF, ecx: 0xFFFF_FFFF, edx: 0xFFFF_FFFF)
    })
    XCTAssertEqual(everything.allowedCR4 & (Rules.vmxe | Rules.smxe), 0)
    XCTAssertEqual(everything.allowedCR4 & (1 << 15 | 1 << 19 | ~0x1FF_FFFF), 0, "reserved bits")
    XCTAssertNotEqual(everything.allowedCR4 & Rules.la57, 0)
    XCTAssertNotEqual(everything.allowedCR4 & Rules.smap, 0)
  }

  // MARK: EFER

  /// A host answering every leaf with `value`, named AuthenticAMD or GenuineIntel.
  private func host(amd: Bool, everything value: UInt32) -> (UInt32, UInt32) -> CPUIDLeaf {
    { leaf, _ in
      if leaf == 0 { return CPUIDLeaf(eax: 0xD, ebx: amd ? 0x6874_7541 : 0x756E_6547) }
      if leaf == 0x8000_0000 { return CPUIDLeaf(eax: 0x8000_0008) }
      return CPUIDLeaf(eax: value, ebx: value, ecx: value, edx: value)
    }
  }

  func testEFERBitsFollowTheExtendedFeatureFlags() {
    let none = Rules.offered(by: host(amd: true, everything: 0))
    XCTAssertEqual(none.allowedEFER, Rules.lma, "only LMA, which writes cannot change")
    let all = Rules.offered(by: host(amd: true, everything: 0xFFFF_FFFF))
    XCTAssertEqual(
      all.allowedEFER,
      Rules.sce | Rules.lme | Rules.lma | Rules.nxe | Rules.ffxsr | Rules.tce,
      "never SVME nor LMSLE (not virtualized)")
  }

  /// QEMU's EPYC: SYSCALL, NX, FFXSR, LM, no TCE: a WRMSR setting LMSLE was accepted and
  /// failed the next VMRUN (found by the guest fuzzer).
  func testEPYCRefusesLMSLEThroughTheMSRHandler() {
    let machine = TestMachine()
    machine.vm.controlRegisterRules = Rules.offered(by: { leaf, _ in
      switch leaf {
      case 0: return CPUIDLeaf(eax: 0xD, ebx: 0x6874_7541)
      case 0x8000_0000: return CPUIDLeaf(eax: 0x8000_0008)
      case 0x8000_0001: return CPUIDLeaf(edx: 1 << 11 | 1 << 20 | 1 << 25 | 1 << 29)
      default: return CPUIDLeaf()
      }
    })
    machine.vcpu.registers.rcx = UInt64(MSRPolicy.efer)
    machine.vcpu.registers.rax = 1 << 13 | 1 << 8 | 1
    XCTAssertEqual(machine.dispatch(VMExit(reason: .msrWrite, instructionLength: 2)), .resume)
    XCTAssertEqual(machine.vcpu.pendingEvent, .generalProtection(0))
    machine.vcpu.pendingEvent = nil
    machine.vcpu.registers.rax = 1 << 14 | 1 << 11 | 1
    XCTAssertEqual(machine.dispatch(VMExit(reason: .msrWrite, instructionLength: 2)), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent, "FFXSR and NXE are offered")
  }

  // MARK: CR4

  let protected32 = GuestMode(width: .protected32, cr0: 0x11)
  let long64 = GuestMode(width: .long64, cr0: 0x8001_0011, cr3: 0x7_0000, cr4: 0x20, efer: 0xD00)

  func testReservedAndHiddenCR4BitsAreRefused() {
    for bit in [Rules.vmxe, Rules.smxe, Rules.osxsave, Rules.la57, 1 << 31, 1 << 63] {
      XCTAssertFalse(rules.permitsCR4(bit, state: protected32), String(bit, radix: 16))
    }
    XCTAssertTrue(rules.permitsCR4(Rules.pae | Rules.pge | Rules.osfxsr, state: protected32))
  }

  func testLongModeKeepsPAEAndLA57() {
    let all = Rules(allowedCR4: ~0)
    XCTAssertFalse(all.permitsCR4(0, state: long64), "PAE cleared in IA-32e mode")
    XCTAssertFalse(all.permitsCR4(Rules.pae | Rules.la57, state: long64), "LA57 changed")
    XCTAssertTrue(all.permitsCR4(Rules.pae | Rules.pge, state: long64))
    XCTAssertTrue(all.permitsCR4(Rules.la57, state: protected32), "LA57 outside IA-32e mode")
  }

  func testPCIDERequiresLongModeAndCR3LowBitsClear() {
    let all = Rules(allowedCR4: ~0)
    XCTAssertFalse(all.permitsCR4(Rules.pcide, state: protected32))
    XCTAssertTrue(all.permitsCR4(Rules.pae | Rules.pcide, state: long64))
    var dirtyCR3 = long64
    dirtyCR3.cr3 |= 0x5
    XCTAssertFalse(all.permitsCR4(Rules.pae | Rules.pcide, state: dirtyCR3))
  }

  func testCETRequiresWP() {
    let all = Rules(allowedCR4: ~0)
    var noWP = long64
    noWP.cr0 &= ~(1 << 16)
    XCTAssertFalse(all.permitsCR4(Rules.pae | Rules.cet, state: noWP))
    XCTAssertTrue(all.permitsCR4(Rules.pae | Rules.cet, state: long64))
  }

  // MARK: CR0

  func testCR0ReservedBitsAndInvalidCombinations() {
    XCTAssertFalse(rules.permitsCR0(1 << 32 | 0x11, state: protected32), "bits 63:32")
    XCTAssertFalse(rules.permitsCR0(0x8000_0010, state: protected32), "PG without PE")
    XCTAssertFalse(rules.permitsCR0(0x2000_0011, state: protected32), "NW without CD")
    XCTAssertTrue(rules.permitsCR0(0x6000_0011, state: protected32), "NW with CD")
    XCTAssertTrue(rules.permitsCR0(0x8000_0011, state: protected32), "paging on")
  }

  func testPagingStaysOnIn64BitModeAndWithPCIDE() {
    XCTAssertFalse(rules.permitsCR0(0x11, state: long64))
    var compatibilityWithPCIDE = long64
    compatibilityWithPCIDE.width = .protected32
    compatibilityWithPCIDE.cr4 |= Rules.pcide
    XCTAssertFalse(rules.permitsCR0(0x11, state: compatibilityWithPCIDE))
    compatibilityWithPCIDE.cr4 &= ~Rules.pcide
    XCTAssertTrue(rules.permitsCR0(0x11, state: compatibilityWithPCIDE))
  }

  func testLongModeActivationNeedsPAE() {
    let lmeWithoutPAE = GuestMode(width: .protected32, cr0: 0x11, efer: 0x100)
    XCTAssertFalse(rules.permitsCR0(0x8000_0011, state: lmeWithoutPAE))
    var withPAE = lmeWithoutPAE
    withPAE.cr4 = Rules.pae
    XCTAssertTrue(rules.permitsCR0(0x8000_0011, state: withPAE))
  }

  func testWPCannotBeClearedUnderCET() {
    var cet = long64
    cet.cr4 |= Rules.cet
    XCTAssertFalse(rules.permitsCR0(0x8000_0011, state: cet))
    XCTAssertTrue(rules.permitsCR0(0x8001_0011, state: cet))
  }
}
