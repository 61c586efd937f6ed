import HypervisorCore
import XCTest

final class PauseLoopDetectorTests: XCTestCase {
  func testASpinLongerThanTheWindowYieldsOnce() {
    var detector = PauseLoopDetector(gap: 10, window: 100)
    var yields: [UInt64] = []
    for time in stride(from: UInt64(1000), through: 1300, by: 5)
    where detector.spinsTooLong(at: time) {
      yields.append(time)
    }
    XCTAssertEqual(yields, [1100, 1205], "one yield per window of continuous spinning")
  }

  func testPausesFurtherApartThanTheGapNeverYield() {
    var detector = PauseLoopDetector(gap: 10, window: 100)
    for time in stride(from: UInt64(0), through: 10_000, by: 50) {
      XCTAssertFalse(detector.spinsTooLong(at: time), "stray PAUSEs at \(time) are not a loop")
    }
  }
}
