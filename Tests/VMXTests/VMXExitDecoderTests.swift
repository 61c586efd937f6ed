import HypervisorCore
import XCTest

@testable import VMX

/// Exit decoding (SDM 3C Appendix C basic reasons; exit qualifications §28.2.1,
/// Tables 28-3, 28-5, 28-7; interruption information §25.9.2).
final class VMXExitDecoderTests: XCTestCase {
  private func decode(
    _ reason: UInt32, qualification: UInt64 = 0, length: UInt32 = 0, interruption: UInt32 = 0,
    errorCode: UInt32 = 0, linear: UInt64 = 0, physical: UInt64 = 0
  ) -> VMExit {
    VMXExitDecoder.decode(
      VMXExitInformation(
        reason: reason, qualification: qualification, instructionLength: length,
        interruptionInfo: interruption, interruptionErrorCode: errorCode,
        guestLinearAddress: linear, guestPhysicalAddress: physical))
  }

  func testInstructionExitsCarryTheirLength() {
    XCTAssertEqual(decode(10, length: 2), VMExit(reason: .cpuid, instructionLength: 2))
    XCTAssertEqual(decode(12, length: 1), VMExit(reason: .halt, instructionLength: 1))
    XCTAssertEqual(decode(40, length: 2), VMExit(reason: .pause, instructionLength: 2))
    XCTAssertEqual(decode(18, length: 3), VMExit(reason: .hypercall, instructionLength: 3))
    XCTAssertEqual(decode(31, length: 2), VMExit(reason: .msrRead, instructionLength: 2))
    XCTAssertEqual(decode(32, length: 2), VMExit(reason: .msrWrite, instructionLength: 2))
    XCTAssertEqual(decode(55, length: 3), VMExit(reason: .xsetbv, instructionLength: 3))
    XCTAssertEqual(decode(13, length: 2), VMExit(reason: .invalidateCaches, instructionLength: 2))
    XCTAssertEqual(decode(54, length: 2), VMExit(reason: .invalidateCaches, instructionLength: 2))
  }

  func testEventExitsHaveNoLength() {
    XCTAssertEqual(decode(1, length: 5), VMExit(reason: .externalInterrupt))
    XCTAssertEqual(decode(2, length: 5), VMExit(reason: .shutdown))
    XCTAssertEqual(decode(3), VMExit(reason: .initSignal))
    XCTAssertEqual(decode(7, length: 5), VMExit(reason: .interruptWindow))
    XCTAssertEqual(decode(52, length: 5), VMExit(reason: .preemptionTimer))
  }

  func testStartupIPIVectorComesFromTheQualification() {
    XCTAssertEqual(decode(4, qualification: 0x9A), VMExit(reason: .startupIPI(vector: 0x9A)))
  }

  func testNMIIsInterruptionType2() {
    XCTAssertEqual(decode(0, interruption: 0x8000_0202), VMExit(reason: .nmi))
  }

  func testExceptionWithErrorCode() {
    // #GP (13), hardware exception (3), error code valid, valid.
    let exit = decode(0, interruption: 0x8000_0B0D, errorCode: 0x18)
    XCTAssertEqual(exit, VMExit(reason: .exception(vector: 13, errorCode: 0x18)))
  }

  func testExceptionWithoutErrorCode() {
    // #BP (3), software exception (6).
    let exit = decode(0, interruption: 0x8000_0603, errorCode: 0x55)
    XCTAssertEqual(exit, VMExit(reason: .exception(vector: 3, errorCode: nil)))
  }

  func testControlRegisterWrite() {
    // MOV CR0, RBX: CR 0, type 0, GPR 3.
    let exit = decode(28, qualification: 0x300, length: 3)
    XCTAssertEqual(
      exit,
      VMExit(
        reason: .controlRegisterAccess(
          ControlRegisterAccess(register: 0, kind: .write, generalRegister: 3)),
        instructionLength: 3))
  }

  func testControlRegisterReadCLTSAndLMSW() {
    let read = VMXExitQualification.controlRegisterAccess(0xF13)  // MOV R15, CR3
    XCTAssertEqual(read, ControlRegisterAccess(register: 3, kind: .read, generalRegister: 15))
    let clts = VMXExitQualification.controlRegisterAccess(0x20)
    XCTAssertEqual(clts.kind, .clts)
    let lmsw = VMXExitQualification.controlRegisterAccess(0x000F_0030)
    XCTAssertEqual(lmsw.kind, .lmsw(sourceData: 0x000F))
    XCTAssertEqual(lmsw.register, 0)
  }

  func testOutByteToPort80() {
    let exit = decode(30, qualification: 0x0080_0040, length: 2)
    XCTAssertEqual(
      exit,
      VMExit(
        reason: .portIO(PortAccess(port: 0x80, size: 1, direction: .write)), instructionLength: 2))
  }

  func testInDwordAndRepInsw() {
    XCTAssertEqual(
      VMXExitQualification.portAccess(0x0CFC_000B),
      PortAccess(port: 0xCFC, size: 4, direction: .read))
    XCTAssertEqual(
      VMXExitQualification.portAccess(0x01F0_0039),
      PortAccess(port: 0x1F0, size: 2, direction: .read, isString: true, isRepeated: true))
  }

  func testEPTViolationWriteToMappedReadOnlyPage() {
    // Write (bit 1), readable (bit 3), linear valid (bit 7).
    let exit = decode(48, qualification: 0x8A, linear: 0x7000, physical: 0xFEE0_0000)
    XCTAssertEqual(
      exit,
      VMExit(
        reason: .nestedPageFault(
          NestedPageFault(
            guestPhysical: 0xFEE0_0000, guestLinear: 0x7000, access: .write, wasMapped: true))))
  }

  func testExitDuringEventDeliveryCarriesTheVector() {
    // IDT-vectoring information (SDM 3C §25.9.3): valid, hardware exception, vector 13.
    var info = VMXExitInformation(
      reason: 48, qualification: 0x81, guestPhysicalAddress: 0xFED0_00D0)
    info.idtVectoringInfo = 1 << 31 | 1 << 11 | 3 << 8 | 13
    XCTAssertEqual(VMXExitDecoder.decode(info).interruptedEventVector, 13)
    // A SIPI's vector is its own; the interrupted event is carried for EPT violations only.
    let sipi = VMXExitInformation(reason: 4, qualification: 0x9A, idtVectoringInfo: 1 << 31 | 0x30)
    XCTAssertEqual(VMXExitDecoder.decode(sipi).reason, .startupIPI(vector: 0x9A))
    XCTAssertNil(VMXExitDecoder.decode(sipi).interruptedEventVector)
    info.idtVectoringInfo = 3 << 8 | 13
    XCTAssertNil(VMXExitDecoder.decode(info).interruptedEventVector)
  }

  func testEPTViolationFetchWinsAndUnmappedHasNoLinearWhenInvalid() {
    let fault = VMXExitQualification.nestedPageFault(
      0x07, guestPhysical: 0x1000, guestLinear: 0x1234)
    XCTAssertEqual(fault.access, .instructionFetch)
    XCTAssertFalse(fault.wasMapped)
    XCTAssertNil(fault.guestLinear)
    XCTAssertEqual(
      VMXExitQualification.nestedPageFault(0x01, guestPhysical: 0, guestLinear: 0).access, .read)
    XCTAssertTrue(
      VMXExitQualification.nestedPageFault(0x21, guestPhysical: 0, guestLinear: 0).wasMapped)
  }

  func testEntryFailuresKeepTheFullReason() {
    XCTAssertEqual(decode(0x8000_0021), VMExit(reason: .entryFailure(code: 0x8000_0021)))
    XCTAssertEqual(decode(0x8000_0022), VMExit(reason: .entryFailure(code: 0x8000_0022)))
    XCTAssertEqual(decode(0x8000_0029), VMExit(reason: .entryFailure(code: 0x8000_0029)))
  }

  func testUnhandledReasonsAreUnknown() {
    XCTAssertEqual(decode(49, physical: 0x1000), VMExit(reason: .unknown(vendorCode: 49)))
    XCTAssertEqual(decode(9), VMExit(reason: .unknown(vendorCode: 9)))
    XCTAssertEqual(decode(35), VMExit(reason: .unknown(vendorCode: 35)), "reserved number")
    XCTAssertEqual(decode(0x1000), VMExit(reason: .unknown(vendorCode: 0x1000)))
  }

  func testHighFlagBitsDoNotChangeTheBasicReason() {
    // Bit 28: pending MTF VM exit.
    XCTAssertEqual(decode(0x1000_000A, length: 2), VMExit(reason: .cpuid, instructionLength: 2))
  }
}
