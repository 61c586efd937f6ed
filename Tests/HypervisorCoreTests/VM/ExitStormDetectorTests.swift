import HypervisorCore
import XCTest

/// A storm is exits that make no progress: the same instruction exiting again and again
/// without completing. Completed instructions, however many, are progress.
final class ExitStormDetectorTests: XCTestCase {
  /// The guest exits at `rip`; the handler resumes it at `resume` (rip + length when the
  /// instruction completed, rip when it injected an exception instead).
  private func exit(_ detector: inout ExitStormDetector, at rip: UInt64, resumeAt resume: UInt64)
    -> Bool
  {
    detector.endExit(exitRIP: rip, resumeRIP: resume)
  }

  func testTripsExactlyAtTheLimitAtOneFaultingInstruction() {
    var detector = ExitStormDetector()
    detector.limit = 5
    for count in 1..<5 {
      XCTAssertFalse(exit(&detector, at: 0x1000, resumeAt: 0x1000), "exit \(count)")
    }
    XCTAssertEqual(detector.idleRun, 4)
    XCTAssertEqual(detector.stuckRIP, 0x1000)
    XCTAssertTrue(exit(&detector, at: 0x1000, resumeAt: 0x1000), "the fifth is a storm")
  }

  /// The benchmark the old rule stopped: a loop of CPUIDs, each completing, at the same RIP.
  func testALoopOfCompletedInstructionsIsNeverAStorm() {
    var detector = ExitStormDetector()
    for _ in 0..<250_000 {
      XCTAssertFalse(exit(&detector, at: 0x2000, resumeAt: 0x2002))
    }
    XCTAssertEqual(detector.idleRun, 0)
  }

  /// Unrolled CPUIDs: each exit is where the previous one resumed, each completes.
  func testBackToBackCompletedInstructionsAreProgress() {
    var detector = ExitStormDetector()
    detector.limit = 3
    var rip: UInt64 = 0x3000
    for _ in 0..<10 {
      XCTAssertFalse(exit(&detector, at: rip, resumeAt: rip + 2))
      rip += 2
    }
  }

  func testACompletedInstructionResetsTheRun() {
    var detector = ExitStormDetector()
    detector.limit = 3
    XCTAssertFalse(exit(&detector, at: 0x1000, resumeAt: 0x1000))
    XCTAssertFalse(exit(&detector, at: 0x1000, resumeAt: 0x1000))
    XCTAssertFalse(exit(&detector, at: 0x1000, resumeAt: 0x1002), "completed at last")
    XCTAssertEqual(detector.idleRun, 0)
    XCTAssertFalse(exit(&detector, at: 0x1000, resumeAt: 0x1000))
    XCTAssertFalse(exit(&detector, at: 0x1000, resumeAt: 0x1000))
    XCTAssertTrue(exit(&detector, at: 0x1000, resumeAt: 0x1000), "three in a row since")
  }

  /// The documented rule: the run is per instruction. A guest faulting at two places in turn
  /// runs its own code between them and keeps only its own time slices.
  func testAnotherFaultingInstructionStartsANewRun() {
    var detector = ExitStormDetector()
    detector.limit = 3
    for _ in 0..<10 {
      XCTAssertFalse(exit(&detector, at: 0x1000, resumeAt: 0x1000))
      XCTAssertFalse(exit(&detector, at: 0x1100, resumeAt: 0x1100))
    }
    XCTAssertEqual(detector.idleRun, 1)
    XCTAssertEqual(detector.stuckRIP, 0x1100)
  }

  func testDefaultLimitIsTheDocumentedOneHundredThousand() {
    var detector = ExitStormDetector()
    XCTAssertEqual(detector.limit, 100_000)
    for _ in 1..<100_000 { XCTAssertFalse(exit(&detector, at: 0x1000, resumeAt: 0x1000)) }
    XCTAssertTrue(exit(&detector, at: 0x1000, resumeAt: 0x1000))
  }

  func testDisabledNeverTrips() {
    var detector = ExitStormDetector()
    detector.limit = 3
    detector.enabled = false
    for _ in 0..<10 { XCTAssertFalse(exit(&detector, at: 0x1000, resumeAt: 0x1000)) }
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
