import HypervisorCore
import XCTest

final class ExitStormDetectorTests: XCTestCase {
  func testTripsExactlyAtTheLimit() {
    var detector = ExitStormDetector()
    detector.limit = 5
    for exit in 1..<5 {
      XCTAssertFalse(detector.endExit(), "exit \(exit)")
    }
    XCTAssertEqual(detector.idleRun, 4)
    XCTAssertTrue(detector.endExit(), "the fifth effect-free exit is a storm")
    XCTAssertEqual(detector.idleRun, 5)
  }

  func testDefaultLimitIsTheDocumentedOneHundredThousand() {
    var detector = ExitStormDetector()
    XCTAssertEqual(detector.limit, 100_000)
    for _ in 1..<100_000 { XCTAssertFalse(detector.endExit()) }
    XCTAssertTrue(detector.endExit())
  }

  func testProgressResetsTheRun() {
    var detector = ExitStormDetector()
    detector.limit = 3
    XCTAssertFalse(detector.endExit())
    XCTAssertFalse(detector.endExit())
    detector.madeProgress = true
    XCTAssertFalse(detector.endExit())
    XCTAssertEqual(detector.idleRun, 0)
    XCTAssertFalse(detector.madeProgress, "consumed")
    XCTAssertFalse(detector.endExit())
    XCTAssertFalse(detector.endExit())
    XCTAssertTrue(detector.endExit(), "three in a row since the progress")
  }

  func testDisabledNeverTrips() {
    var detector = ExitStormDetector()
    detector.limit = 3
    detector.enabled = false
    for _ in 0..<10 { XCTAssertFalse(detector.endExit()) }
    XCTAssertEqual(detector.idleRun, 10, "still counted, for the report")
  }

  func testProfileControlsTheDetector() {
    var profile = VMProfile(name: Array("s".utf8))
    profile.stormDetection = false
    profile.vcpuCount = 2
    let quiet = VirtualMachine(id: 1, profile: profile)
    XCTAssertEqual(quiet.vcpus.map(\.storm.enabled), [false, false])
    profile.stormDetection = true
    XCTAssertEqual(
      VirtualMachine(id: 2, profile: profile).vcpus.map(\.storm.enabled), [true, true])
  }
}
