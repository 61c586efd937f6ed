import ControlProtocol
import XCTest

/// The node's side of reading a VM's saved state in pieces: each status answer carries the
/// window from the asked offset.
final class StateExcerptTests: XCTestCase {
  private let state = (0..<700).map { UInt8(truncatingIfNeeded: $0 * 7) }

  func testWindowsCoverTheStateExactlyOnce() {
    var assembled: [UInt8] = []
    var answers = 0
    while true {
      let piece = StateExcerpt.window(of: state, from: UInt32(assembled.count))
      answers += 1
      XCTAssertEqual(piece.totalSize, 700)
      XCTAssertEqual(Int(piece.offset), assembled.count)
      XCTAssertLessThanOrEqual(piece.bytes.count, ProtocolLimits.maximumStateBytes)
      assembled += piece.bytes
      if piece.bytes.isEmpty || assembled.count >= 700 { break }
    }
    XCTAssertEqual(assembled, state)
    XCTAssertEqual(answers, 3, "256 + 256 + 188 bytes")
  }

  func testAnOffsetAtOrPastTheEndGetsNoBytes() {
    for offset: UInt32 in [700, 701, .max] {
      let piece = StateExcerpt.window(of: state, from: offset)
      XCTAssertEqual(piece.bytes, [])
      XCTAssertEqual(piece.offset, 700)
    }
    XCTAssertEqual(
      StateExcerpt.window(of: [], from: 0), StateExcerpt(totalSize: 0, offset: 0, bytes: []))
  }

  func testEveryWindowFitsAStatusAnswer() throws {
    let piece = StateExcerpt.window(of: state, from: 256)
    let status = VMStatus(
      summary: VMSummary(
        id: 1, name: Array("vm".utf8), state: .paused, vcpuCount: 1, memorySize: 1 << 24),
      uptimeMilliseconds: 1, vcpuCPUs: [0], state: piece)
    let payload = try Response.vmStatus(status).encodedPayload(for: .status)
    XCTAssertEqual(try Response.decode(kind: .status, payload: payload), .vmStatus(status))
  }
}
