import XCTest

@testable import PeregrineCommands

/// `peregrine status VM` with guest NICs (docs/guest-io.md).
final class NICStatusTests: XCTestCase {
  func testEachNICHasALineWithBytesCopiedPerFrame() throws {
    let status = MachineStatus(
      summary: MachineSummary(
        name: "neta", state: .running, vcpus: 1, memory: 192 << 20, uptimeSeconds: 5),
      vcpus: [], exits: [], refusedMSRs: [],
      nics: [
        NICStatus(
          mac: "52:54:00:12:34:01", sentFrames: 10, sentBytes: 980, receivedFrames: 10,
          receivedBytes: 980, copies: 20, copiedBytes: 2080, notifications: 30, droppedFrames: 1)
      ], ioExits: 4000)
    let text = StatusText.render(StatusReport(node: "node0", status: status))
    XCTAssertTrue(
      text.contains(
        "  nic0    52:54:00:12:34:01  sent 10 frames 980 bytes, received 10 frames 980 bytes, copied 2080 bytes (104 per frame), dropped 1\n"
      ), text)
    XCTAssertTrue(
      text.contains(
        "          20 copies (1.00 per frame), 30 doorbell exits (1.50 per frame), 200.00 VM exits per frame since start\n"
      ), text)
    XCTAssertFalse(text.contains("  disk "), "no disk, no disk line")
    let json = String(decoding: try JSONEncoder().encode(status), as: UTF8.self)
    XCTAssertTrue(json.contains("\"copiedBytes\":2080"), json)
    XCTAssertTrue(json.contains("\"notifications\":30"), json)
  }

  func testTheDiskHasRequestsByTypeAndExitsPerRequest() throws {
    let status = MachineStatus(
      summary: MachineSummary(
        name: "disky", state: .running, vcpus: 1, memory: 128 << 20, uptimeSeconds: 5),
      vcpus: [], exits: [], refusedMSRs: [],
      disk: DiskStatus(
        reads: 300, writes: 90, flushes: 8, otherRequests: 2, bytesRead: 1 << 20,
        bytesWritten: 4096, ioErrors: 1, notifications: 360, queueFaults: 0),
      ioExits: 10_000)
    let text = StatusText.render(StatusReport(node: "node0", status: status))
    XCTAssertTrue(
      text.contains(
        "  disk    400 requests: 300 reads, 90 writes, 8 flushes, 2 other; 1048576 bytes read, 4096 written; 1 I/O errors\n"
          + "          360 doorbell exits (0.90 per request), 25.00 VM exits per request since start\n"
      ), text)
    XCTAssertFalse(text.contains("queue faults"), text)
    let json = String(decoding: try JSONEncoder().encode(status), as: UTF8.self)
    XCTAssertTrue(json.contains("\"reads\":300"), json)
    XCTAssertTrue(json.contains("\"ioExits\":10000"), json)
  }
}
