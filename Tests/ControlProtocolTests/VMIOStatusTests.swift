import ControlProtocol
import XCTest

/// The I/O status page (`ioStatus`, protocol version 5): its byte layout as
/// docs/control-protocol.md gives it, a full page within one datagram, and every malformed
/// page refused with a precise error.
final class VMIOStatusTests: XCTestCase {
  private func payload(_ status: VMIOStatus) throws -> [UInt8] {
    try Response.vmIOStatus(status).encodedPayload(for: .ioStatus)
  }

  func testLayoutIsAsDocumented() throws {
    let status = VMIOStatus(
      uptimeMilliseconds: 0x0102, totalExits: 0x0304,
      disk: DiskCounters(
        reads: 1, writes: 2, flushes: 3, otherRequests: 4, bytesRead: 5, bytesWritten: 6,
        ioErrors: 7, notifications: 8, queueFaults: 9),
      nics: [
        NICCounters(
          mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56], transmittedFrames: 10, transmittedBytes: 11,
          receivedFrames: 12, receivedBytes: 13, copies: 14, copiedBytes: 15, notifications: 16,
          droppedFrames: 17)
      ])
    let bytes = try payload(status)
    func u64(_ value: UInt64) -> [UInt8] {
      (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }
    var expected: [UInt8] = [0]  // status ok
    expected += u64(0x0102) + u64(0x0304) + [1]
    for value in 1...9 { expected += u64(UInt64(value)) }
    expected += [1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]
    for value in 10...17 { expected += u64(UInt64(value)) }
    XCTAssertEqual(bytes, expected)
    XCTAssertEqual(try Response.decode(kind: .ioStatus, payload: bytes), .vmIOStatus(status))
  }

  func testAVMWithoutDiskOrNICsIsSeventeenBytesAndTheCountersAddUp() throws {
    let bytes = try payload(VMIOStatus(uptimeMilliseconds: 1, totalExits: 2))
    XCTAssertEqual(bytes.count, 1 + 8 + 8 + 1 + 1)
    let disk = DiskCounters(reads: 5, writes: 6, flushes: 1, otherRequests: 2)
    XCTAssertEqual(disk.requests, 14)
  }

  func testAFullPageFitsOneDatagram() throws {
    let bytes = try payload(SampleMessages.fullIOStatus)
    XCTAssertLessThanOrEqual(bytes.count, ProtocolLimits.maximumPayload)
    XCTAssertEqual(
      try Response.decode(kind: .ioStatus, payload: bytes), .vmIOStatus(SampleMessages.fullIOStatus)
    )
  }

  func testEveryTruncationAndATrailingByteAreRefused() throws {
    let bytes = try payload(SampleMessages.fullIOStatus)
    for length in 1..<bytes.count {
      XCTAssertThrowsError(
        try Response.decode(kind: .ioStatus, payload: Array(bytes[0..<length])), "\(length) bytes")
    }
    XCTAssertThrowsError(try Response.decode(kind: .ioStatus, payload: bytes + [0]))
  }

  func testBadFieldsAreRefused() throws {
    let bytes = try payload(VMIOStatus(uptimeMilliseconds: 1, totalExits: 2))
    // The disk flag is a bool: 2 is neither.
    var flag = bytes
    flag[17] = 2
    XCTAssertThrowsError(try Response.decode(kind: .ioStatus, payload: flag))
    // A disk announced but absent.
    flag[17] = 1
    XCTAssertThrowsError(try Response.decode(kind: .ioStatus, payload: flag))
    // More NICs than a VM can have, and a count whose NICs are not there.
    var count = bytes
    count[18] = UInt8(ProtocolLimits.maximumNICs + 1)
    XCTAssertThrowsError(try Response.decode(kind: .ioStatus, payload: count))
    count[18] = 1
    XCTAssertThrowsError(try Response.decode(kind: .ioStatus, payload: count))
  }

  func testEncodingRefusesTooManyNICsOrABadMAC() {
    var status = SampleMessages.fullIOStatus
    status.nics.append(status.nics[0])
    XCTAssertThrowsError(try payload(status))
    status = VMIOStatus(uptimeMilliseconds: 0, totalExits: 0, nics: [NICCounters(mac: [1, 2])])
    XCTAssertThrowsError(try payload(status))
  }

  func testTheRequestNamesOneVM() throws {
    let request = Request.ioStatus(name: Array("linux-0".utf8))
    let bytes = try request.encodedPayload()
    XCTAssertEqual(bytes, [7] + Array("linux-0".utf8))
    XCTAssertEqual(request.kind.rawValue, 20)
    XCTAssertEqual(try Request.decode(kind: .ioStatus, payload: bytes), request)
    XCTAssertThrowsError(
      try Request.decode(kind: .ioStatus, payload: [40] + Array(repeating: 0x61, count: 40)))
    XCTAssertThrowsError(try Request.decode(kind: .ioStatus, payload: bytes + [0]))
    XCTAssertTrue(Response.vmIOStatus(SampleMessages.fullIOStatus).answers(.ioStatus))
    XCTAssertFalse(Response.vmIOStatus(SampleMessages.fullIOStatus).answers(.status))
  }
}
