import HypervisorCore
import XCTest

/// A VM ends as "halted waiting for an interrupt" only when its awake count reaches zero:
/// every vCPU judged asleep by its own CPU, none posted to since.
final class AwakeVCPUsTests: XCTestCase {
  private func twoVCPUs() -> (VirtualCPU, VirtualCPU, AwakeVCPUs) {
    let awake = AwakeVCPUs(2)
    let first = VirtualCPU(index: 0)
    let second = VirtualCPU(index: 1)
    first.awakeVCPUs = awake
    second.awakeVCPUs = awake
    return (first, second, awake)
  }

  func testTheLastVCPUJudgedAsleepEndsTheVM() {
    let (first, second, awake) = twoVCPUs()
    XCTAssertFalse(first.noteAsleep())
    XCTAssertFalse(first.noteAsleep(), "judged once: the count moves once")
    XCTAssertEqual(awake.value, 1)
    XCTAssertTrue(second.noteAsleep())
    XCTAssertEqual(awake.value, 0)
  }

  /// The race that stopped a ping-pong VM: vCPU 0 sent an IPI and halted; vCPU 1's CPU had
  /// taken the IPI into its APIC but not yet marked it runnable. vCPU 1 was never judged
  /// asleep after the post, so vCPU 0's judgement leaves one awake.
  func testAPostBringsAVCPUBackBeforeItsSenderSleeps() {
    let (first, second, awake) = twoVCPUs()
    XCTAssertFalse(second.noteAsleep(), "vCPU 1 halts first")
    second.postInterrupt(vector: 0x50)
    XCTAssertEqual(awake.value, 2, "the post counts it back")
    _ = second.takeRequests()  // its CPU drains the post: halted-looking, not judged again
    XCTAssertFalse(first.noteAsleep(), "vCPU 0 halts: vCPU 1 still counts")
    XCTAssertEqual(awake.value, 1)
  }

  /// A post that landed before the flag was set is seen by the owner's re-check.
  func testAPendingRequestKeepsTheVCPUAwake() {
    let (first, second, awake) = twoVCPUs()
    first.postInterrupt(vector: 0x40)  // not judged yet: nothing to count back
    XCTAssertFalse(first.noteAsleep())
    XCTAssertEqual(awake.value, 2, "a request was pending: counted back in")
    XCTAssertFalse(second.noteAsleep())
    XCTAssertEqual(awake.value, 1)
  }

  func testAVMWithoutACountIsNeverEndedThisWay() {
    XCTAssertFalse(VirtualCPU(index: 0).noteAsleep())
  }
}
