import HypervisorCore
import XCTest

final class ExitDispatcherTests: MachineTestCase {
  private var machine: TestMachine!
  private var vcpu: VirtualCPU { machine.vcpu }

  override func setUp() {
    super.setUp()
    machine = makeMachine()
    machine.enterRealMode(cs: 0, ip: 0x2000)
  }

  func testInterceptedExceptionBecomesThePendingEvent() {
    XCTAssertEqual(
      machine.dispatch(VMExit(reason: .exception(vector: 14, errorCode: 0x6))), .resume)
    XCTAssertEqual(vcpu.pendingEvent, .exception(vector: 14, errorCode: 0x6))
    XCTAssertEqual(vcpu.registers.rip, 0x2000, "a fault does not complete the instruction")
    XCTAssertEqual(machine.dispatch(VMExit(reason: .exception(vector: 6, errorCode: nil))), .resume)
    XCTAssertEqual(vcpu.pendingEvent, .invalidOpcode)
  }

  func testShutdownStops() {
    XCTAssertEqual(machine.dispatch(VMExit(reason: .shutdown)), .stop(.shutdown))
  }

  func testEntryFailureStopsWithTheCode() {
    XCTAssertEqual(
      machine.dispatch(VMExit(reason: .entryFailure(code: 0x8000_0021))),
      .stop(.entryFailure(code: 0x8000_0021)))
  }

  func testUnknownExitStopsWithTheVendorCode() {
    XCTAssertEqual(
      machine.dispatch(VMExit(reason: .unknown(vendorCode: 0x7D))),
      .stop(.unexpectedExit(vendorCode: 0x7D)))
  }

  /// INIT and SIPI have no handler yet (vCPUs all start at the entry point); control
  /// registers do (ControlRegisterHandlerTests).
  func testInitAndSIPIAreUnexpected() {
    for reason in [ExitReason.initSignal, .startupIPI(vector: 0x10)] {
      guard
        case .stop(.unexpectedExit) = machine.dispatch(VMExit(reason: reason, instructionLength: 3))
      else {
        XCTFail("\(reason) must stop the VM")
        continue
      }
    }
    XCTAssertEqual(vcpu.registers.rip, 0x2000)
  }

  func testMachineCheckStopsTheVMInsteadOfReachingTheGuest() {
    XCTAssertEqual(
      machine.dispatch(VMExit(reason: .exception(vector: 18, errorCode: nil))),
      .stop(.unexpectedExit(vendorCode: 18)))
    XCTAssertNil(vcpu.pendingEvent)
  }

  func testXSETBVInjectsInvalidOpcode() {
    XCTAssertEqual(machine.dispatch(VMExit(reason: .xsetbv, instructionLength: 3)), .resume)
    XCTAssertEqual(vcpu.pendingEvent, .exception(vector: 6, errorCode: nil))
    XCTAssertEqual(vcpu.registers.rip, 0x2000, "#UD: the instruction did not execute")
  }

  func testInvalidateCachesCompletesTheInstruction() {
    XCTAssertEqual(
      machine.dispatch(VMExit(reason: .invalidateCaches, instructionLength: 2)), .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x2002)
    XCTAssertNil(vcpu.pendingEvent)
  }

  func testInvalidateCachesDecodedInRealMode() {
    // 0F 09: WBINVD; 0F 08: INVD.
    XCTAssertEqual(machine.dispatchDecoding(.invalidateCaches, instruction: [0x0F, 0x09]), .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x2002)
    XCTAssertEqual(machine.dispatchDecoding(.invalidateCaches, instruction: [0x0F, 0x08]), .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x2004)
  }

  func testHostEventsJustResume() {
    for reason in [ExitReason.externalInterrupt, .nmi, .interruptWindow, .preemptionTimer] {
      XCTAssertEqual(machine.dispatch(VMExit(reason: reason)), .resume, "\(reason)")
    }
    XCTAssertEqual(vcpu.registers.rip, 0x2000)
    XCTAssertNil(vcpu.pendingEvent)
  }

  func testGuestCausedClassification() {
    XCTAssertFalse(ExitReason.externalInterrupt.isGuestCaused)
    XCTAssertFalse(ExitReason.nmi.isGuestCaused)
    XCTAssertFalse(ExitReason.interruptWindow.isGuestCaused)
    XCTAssertFalse(ExitReason.preemptionTimer.isGuestCaused)
    XCTAssertTrue(ExitReason.cpuid.isGuestCaused)
    XCTAssertTrue(ExitReason.halt.isGuestCaused)
    XCTAssertTrue(
      ExitReason.portIO(PortAccess(port: 0x80, size: 1, direction: .read)).isGuestCaused)
  }

  /// docs/guest-abi.md numbers the exit kinds for the statistics hypercall.
  func testExitKindNumberingMatchesTheGuestABI() {
    let documented = [
      "cpuid", "rdmsr", "wrmsr", "io", "hlt", "hypercall", "npf", "extint", "nmi", "intwin",
      "exception", "cr",
      "shutdown", "init", "sipi", "timer", "xsetbv", "wbinvd", "entryfail", "unknown", "pause", "dirty",
    ]
    XCTAssertEqual(ExitKind.count, documented.count)
    XCTAssertEqual(ExitKind.allCases.count, ExitKind.count)
    for kind in ExitKind.allCases {
      XCTAssertEqual(kind.name.description, documented[Int(kind.rawValue)], "kind \(kind.rawValue)")
    }
  }

  func testReasonKinds() {
    let fault = NestedPageFault(guestPhysical: 0, access: .read)
    XCTAssertEqual(ExitReason.nestedPageFault(fault).kind, .nestedPageFault)
    XCTAssertEqual(ExitReason.exception(vector: 1, errorCode: nil).kind, .exception)
    XCTAssertEqual(ExitReason.unknown(vendorCode: 5).kind, .unknown)
    XCTAssertEqual(ExitReason.startupIPI(vector: 1).kind.rawValue, 14)
    XCTAssertEqual(ExitReason.invalidateCaches.kind.rawValue, 17)
  }

  func testPendingEventErrorCodeVectors() {
    let withCode: Set<UInt8> = [8, 10, 11, 12, 13, 14, 17, 21]
    for vector in UInt8(0)..<32 {
      XCTAssertEqual(
        PendingEvent.exceptionHasErrorCode(vector), withCode.contains(vector), "vector \(vector)")
    }
    XCTAssertEqual(PendingEvent.generalProtection(), .exception(vector: 13, errorCode: 0))
  }
}
