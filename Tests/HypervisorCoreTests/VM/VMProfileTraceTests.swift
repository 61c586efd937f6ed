import HypervisorCore
import XCTest

/// `trace=N`: the exits to record per vCPU (docs/exit-trace.md).
final class VMProfileTraceTests: XCTestCase {
  private func parse(_ line: String) -> Result<VMProfile, VMProfileError> {
    VMProfile.parse(Array(line.utf8))
  }

  func testNoTraceUnlessAsked() throws {
    XCTAssertEqual(try parse("vm name=a").get().traceExits, 0)
    XCTAssertEqual(try parse("vm name=a trace=3000 cpus=2").get().traceExits, 3000)
    XCTAssertEqual(try parse("vm name=a trace=100000").get().traceExits, 100_000)
  }

  func testZeroTooManyAndNonNumbersAreRefused() {
    let refused = VMProfileError.invalidValue(Array("trace".utf8))
    XCTAssertEqual(parse("vm name=a trace=0"), .failure(refused))
    XCTAssertEqual(parse("vm name=a trace=100001"), .failure(refused))
    XCTAssertEqual(parse("vm name=a trace=lots"), .failure(refused))
  }
}
