import XCTest

@testable import BootProtocols

final class ProcessorStartPlanTests: XCTestCase {
  private func cpu(_ apic: UInt32, enabled: Bool = true) -> ACPIProcessor {
    ACPIProcessor(processorUID: apic, apicID: apic, enabled: enabled, onlineCapable: !enabled)
  }

  private func plan(_ processors: [ACPIProcessor], bsp: UInt32 = 0, _ line: String = "")
    -> ProcessorStartPlan
  {
    ProcessorStartPlan(processors: processors, bootstrapAPICID: bsp, commandLine: Array(line.utf8))
  }

  func testStartsEveryEnabledProcessorButTheBootstrapInMADTOrder() {
    let p = plan([cpu(4), cpu(0), cpu(6), cpu(2)], bsp: 0)
    XCTAssertEqual(p.candidates, [4, 6, 2])
    XCTAssertEqual(p.skipped, [])
    XCTAssertEqual(p.limit, Int.max)
    XCTAssertNil(p.simulatedFailure)
  }

  func testBootstrapNeedNotBeFirst() {
    XCTAssertEqual(plan([cpu(0), cpu(1), cpu(2)], bsp: 1).candidates, [0, 2])
  }

  func testDisabledDuplicateAndX2APICOnlyEntriesAreSkippedWithTheirReason() {
    let p = plan([cpu(0), cpu(1, enabled: false), cpu(2), cpu(2), cpu(300)])
    XCTAssertEqual(p.candidates, [2])
    XCTAssertEqual(
      p.skipped,
      [
        .init(apicID: 1, reason: .disabled), .init(apicID: 2, reason: .duplicate),
        .init(apicID: 300, reason: .needsX2APIC),
      ])
  }

  func testCommandLineLimits() {
    let all = [cpu(0), cpu(1), cpu(2), cpu(3)]
    XCTAssertEqual(plan(all, "loglevel=info maxcpus=2").limit, 2)
    XCTAssertEqual(plan(all, "maxcpus=0").limit, 1)
    XCTAssertEqual(plan(all, "nosmp maxcpus=3").limit, 1)
    XCTAssertEqual(plan(all, "maxcpus=two").limit, Int.max)
    XCTAssertEqual(plan(all, "smp_test_fail=2").simulatedFailure, 2)
    XCTAssertNil(plan(all, "smp_test_fail=").simulatedFailure)
    XCTAssertEqual(plan(all, "smp_test_refuse=1").simulatedBackendFailure, 1)
    XCTAssertNil(plan(all, "smp_test_fail=1").simulatedBackendFailure)
    // nosmp is a flag: `nosmp=1` is not it.
    XCTAssertEqual(plan(all, "nosmp=1").limit, Int.max)
  }
}
