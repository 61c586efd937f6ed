import HypervisorCore
import XCTest

/// `sched=shared|pinned|gang` and `pin=0,2,4,6`.
final class VMProfileSchedulingTests: XCTestCase {
  private func parse(_ line: String) -> Result<VMProfile, VMProfileError> {
    VMProfile.parse(Array(line.utf8))
  }

  private func key(_ text: String) -> [UInt8] { Array(text.utf8) }

  func testSharedWithoutPinsByDefault() throws {
    let profile = try parse("vm name=a cpus=4").get()
    XCTAssertEqual(profile.scheduling, .shared)
    XCTAssertNil(profile.pinnedCPUs)
  }

  func testEachMode() throws {
    XCTAssertEqual(try parse("vm name=a sched=pinned").get().scheduling, .pinned)
    XCTAssertEqual(try parse("vm name=a sched=gang").get().scheduling, .gang)
    XCTAssertEqual(try parse("vm name=a sched=shared").get().scheduling, .shared)
  }

  func testPinListOnePerVCPU() throws {
    let profile = try parse("vm name=a cpus=4 sched=pinned pin=0,2,4,6").get()
    XCTAssertEqual(profile.pinnedCPUs, [0, 2, 4, 6])
    XCTAssertEqual(profile.vcpuCount, 4)
    XCTAssertEqual(try parse("vm name=a pin=5 cpus=1").get().pinnedCPUs, [5])
    XCTAssertEqual(try parse("vm name=a pin=4095").get().pinnedCPUs, [4095], "the maximum")
    XCTAssertEqual(
      try parse("vm name=a pin=3,1 cpus=2").get().pinnedCPUs, [3, 1], "pin= before cpus= too")
  }

  func testPinListLengthMustMatchCPUs() {
    XCTAssertEqual(parse("vm name=a cpus=4 pin=0,2"), .failure(.pinCountMismatch))
    XCTAssertEqual(parse("vm name=a pin=0,2"), .failure(.pinCountMismatch), "cpus=1 by default")
    XCTAssertEqual(VMProfileError.pinCountMismatch.key, key("pin"))
  }

  func testMalformedPinListsAreRefused() {
    for list in ["", ",", "0,", ",0", "0,,1", "a", "1-3", "0;1", "4096", "-1", "0, 1"] {
      let line = "vm name=a cpus=2 pin=" + list
      switch parse(line) {
      case .success(let profile): XCTFail("'\(line)' parsed as \(profile)")
      case .failure(let error):
        // "pin=" alone has no value; "0, 1" leaves a word " 1" without '='.
        XCTAssertTrue(
          error == .invalidValue(key("pin")) || error == .missingValue(key("pin"))
            || error == .missingValue(key("1")), "'\(line)': \(error)")
      }
    }
  }

  func testBadModeAndRepeatsAreRefused() {
    XCTAssertEqual(parse("vm name=a sched=fair"), .failure(.invalidValue(key("sched"))))
    XCTAssertEqual(parse("vm name=a sched=gang sched=pinned"), .failure(.repeatedKey(key("sched"))))
    XCTAssertEqual(parse("vm name=a pin=0 pin=1"), .failure(.repeatedKey(key("pin"))))
  }
}
