import XCTest

@testable import VMX

/// Names of exit reasons (SDM 3C Appendix C) and VM-instruction errors (§31.4, Table 31-1).
final class VMXDiagnosticsTests: XCTestCase {
  func testInstructionErrors() {
    XCTAssertEqual(
      "\(VMXDiagnostics.describeInstructionError(7))", "VM entry with invalid control field(s)")
    XCTAssertEqual(
      "\(VMXDiagnostics.describeInstructionError(8))", "VM entry with invalid host-state field(s)")
    XCTAssertEqual(
      "\(VMXDiagnostics.describeInstructionError(12))",
      "VMREAD/VMWRITE from/to unsupported VMCS component")
    XCTAssertEqual(
      "\(VMXDiagnostics.describeInstructionError(5))", "VMRESUME with non-launched VMCS")
    XCTAssertEqual("\(VMXDiagnostics.describeInstructionError(14))", "unknown VM-instruction error")
    XCTAssertEqual(VMInstructionError.allCases.count, 25)
  }

  func testBasicReasonNames() {
    XCTAssertEqual("\(VMXExitDecoder.name(ofBasicReason: 0))", "exception or NMI")
    XCTAssertEqual("\(VMXExitDecoder.name(ofBasicReason: 30))", "I/O instruction")
    XCTAssertEqual("\(VMXExitDecoder.name(ofBasicReason: 48))", "EPT violation")
    XCTAssertEqual("\(VMXExitDecoder.name(ofBasicReason: 69))", "LOADIWKEY")
    XCTAssertEqual("\(VMXExitDecoder.name(ofBasicReason: 38))", "reserved exit reason")
    XCTAssertEqual("\(VMXExitDecoder.name(ofBasicReason: 70))", "reserved exit reason")
  }

  func testEveryAppendixCReasonUpTo69IsNamedExceptTheUnusedOnes() {
    let unnamed = (UInt16(0)...69).filter { VMXBasicExitReason(rawValue: $0) == nil }
    XCTAssertEqual(unnamed, [35, 38, 42])
  }

  func testEntryFailures() {
    XCTAssertEqual(
      "\(VMXDiagnostics.describeEntryFailure(reason: 0x8000_0021))",
      "VM-entry failure due to invalid guest state")
    XCTAssertEqual(
      "\(VMXDiagnostics.describeEntryFailure(reason: 0x8000_0022))",
      "VM-entry failure due to MSR loading")
    XCTAssertEqual(
      "\(VMXDiagnostics.describeEntryFailure(reason: 0x8000_0029))",
      "VM-entry failure due to machine-check event")
    XCTAssertEqual(
      "\(VMXDiagnostics.describeEntryFailure(reason: 0x8000_000A))",
      "VM-entry failure with an unexpected basic exit reason")
  }
}
