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
          receivedBytes: 980, copiedBytes: 2080, droppedFrames: 1)
      ])
    let text = StatusText.render(StatusReport(node: "node0", status: status))
    XCTAssertTrue(
      text.contains(
        "  nic0    52:54:00:12:34:01  sent 10 frames 980 bytes, received 10 frames 980 bytes, copied 2080 bytes (104 per frame), dropped 1\n"
      ), text)
    let json = String(decoding: try JSONEncoder().encode(status), as: UTF8.self)
    XCTAssertTrue(json.contains("\"copiedBytes\":2080"), json)
  }
}
