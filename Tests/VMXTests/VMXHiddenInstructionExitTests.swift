import HypervisorCore
import XCTest

@testable import VMX

/// Exits for instructions the guest's CPUID does not offer become the exception the
/// processor raises without a hypervisor (SDM 3C Appendix C reasons), never a VM stop.
final class VMXHiddenInstructionExitTests: XCTestCase {
  private func decode(_ reason: VMXBasicExitReason) -> VMExit {
    VMXExitDecoder.decode(VMXExitInformation(reason: UInt32(reason.rawValue), instructionLength: 3))
  }

  func testVMXInstructionsRaiseInvalidOpcode() {
    let vmx: [VMXBasicExitReason] = [
      .vmclear, .vmlaunch, .vmptrld, .vmptrst, .vmread, .vmresume, .vmwrite, .vmxoff, .vmxon,
      .invept, .invvpid, .vmfunc,
    ]
    for reason in vmx {
      XCTAssertEqual(
        decode(reason), VMExit(reason: .exception(vector: 6, errorCode: nil)),
        "\(reason): VMX is not offered, CR4.VMXE reads 0: #UD")
    }
  }

  func testHiddenInstructionsRaiseInvalidOpcode() {
    let hidden: [VMXBasicExitReason] = [
      .getsec, .monitor, .mwait, .rdtscp, .invpcid, .xsaves, .xrstors, .encls, .pconfig, .umwait,
      .tpause, .loadiwkey,
    ]
    for reason in hidden {
      XCTAssertEqual(
        decode(reason), VMExit(reason: .exception(vector: 6, errorCode: nil)), "\(reason)")
    }
  }

  func testRDPMCRaisesGeneralProtectionZero() {
    XCTAssertEqual(decode(.rdpmc), VMExit(reason: .exception(vector: 13, errorCode: 0)))
  }

  func testVMCALLStaysTheHypercall() {
    XCTAssertEqual(decode(.vmcall), VMExit(reason: .hypercall, instructionLength: 3))
  }

  func testNoInstructionExitIsLeftUnknown() {
    // Every instruction-caused reason Peregrine can see is decoded; only these stay unknown.
    let leftUnknown: Set<VMXBasicExitReason> = [
      .exceptionOrNMI,  // (no valid interruption information in this fixture)
      .ioSMI, .otherSMI, .nmiWindow, .taskSwitch, .invlpg, .rdtsc, .rsm, .movDR,
      .monitorTrapFlag, .pause, .tprBelowThreshold, .apicAccess, .virtualizedEOI,
      .gdtrOrIDTRAccess, .ldtrOrTRAccess, .eptMisconfiguration, .apicWrite, .rdrand, .rdseed,
      .pageModificationLogFull, .sppRelatedEvent,
    ]
    for reason in VMXBasicExitReason.allCases {
      guard case .unknown = decode(reason).reason else { continue }
      XCTAssertTrue(leftUnknown.contains(reason), "\(reason) stops the VM as an unexpected exit")
    }
  }
}
