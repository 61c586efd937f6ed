import ControlProtocol
import XCTest

/// The CLI words the corrected-error problem with the protocol's copy of the window.
final class HealthWindowAgreementTests: XCTestCase {
  func testTheProtocolsWindowIsAMinute() {
    // HypervisorCore's NodeHealth.machineCheckWindowMilliseconds is 60 000 (MachineCheckTests).
    XCTAssertEqual(NodeInfo.HealthProblem.machineCheckWindowSeconds, 60)
  }
}
