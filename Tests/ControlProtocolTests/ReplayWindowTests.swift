import ControlProtocol
import XCTest

final class ReplayWindowTests: XCTestCase {
  func testSlidingWindow() {
    var window = ReplayWindow(floor: 100)
    XCTAssertEqual(window.verdict(for: 100), .duplicate, "the floor counts as seen")
    XCTAssertEqual(window.verdict(for: 36), .tooOld)
    XCTAssertEqual(window.verdict(for: 101), .new)
    window.record(101)
    XCTAssertEqual(window.verdict(for: 101), .duplicate)
    window.record(150)
    XCTAssertEqual(window.verdict(for: 149), .new, "out of order, inside the window")
    XCTAssertEqual(window.verdict(for: 101), .duplicate)
    window.record(149)
    XCTAssertEqual(window.verdict(for: 149), .duplicate)
    XCTAssertEqual(window.verdict(for: 150 - 63), .duplicate, "the floor's bits slid along")
    window.record(1000)
    XCTAssertEqual(window.verdict(for: 1000 - 64), .tooOld)
    XCTAssertEqual(window.verdict(for: 1000 - 63), .new)
    XCTAssertEqual(window.verdict(for: 150), .tooOld)
    XCTAssertEqual(window.highest, 1000)
  }

  func testClientTableForgetsTheLeastRecentlyUsedAndRaisesTheFloor() {
    var windows = ClientWindows(capacity: 2)
    windows.record(clientID: 1, sequence: 500)
    windows.record(clientID: 2, sequence: 600)
    windows.record(clientID: 2, sequence: 601)
    windows.record(clientID: 3, sequence: 700)
    XCTAssertEqual(windows.count, 2)
    XCTAssertEqual(windows.floor, 500, "client 1's window was dropped")
    XCTAssertEqual(
      windows.verdict(clientID: 1, sequence: 450), .duplicate, "a forgotten client's old number")
    XCTAssertEqual(windows.verdict(clientID: 1, sequence: 500), .duplicate)
    XCTAssertEqual(windows.verdict(clientID: 1, sequence: 501), .new)
    XCTAssertEqual(windows.verdict(clientID: 2, sequence: 601), .duplicate)
    XCTAssertEqual(windows.nextSequence(for: 2), 602)
    XCTAssertEqual(windows.nextSequence(for: 9), 501)
  }
}
