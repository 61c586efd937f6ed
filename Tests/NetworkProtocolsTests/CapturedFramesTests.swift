import XCTest

@testable import NetworkProtocols

/// Frames captured on a real link: QEMU 7.2's user-mode network (slirp, 10.0.2.2,
/// 52:55:0a:00:02:02) talking to a Peregrine node (10.0.2.15, 52:54:00:12:34:56), recorded
/// with `-object filter-dump` while the host sent "peregrine captured" and "x" to the
/// node's forwarded UDP echo port. Slirp's frames are not padded to 60 bytes.
final class CapturedFramesTests: XCTestCase {
  static func bytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
      let next = hex.index(index, offsetBy: 2)
      out.append(UInt8(hex[index..<next], radix: 16)!)
      index = next
    }
    return out
  }

  /// Slirp asks who has 10.0.2.15 (42 bytes, unpadded).
  static let slirpARPRequest = bytes(
    "ffffffffffff52550a0002020806000108000604000152550a0002020a0002020000000000000a00020f")
  /// The node's answer, as it went out.
  static let nodeARPReply = bytes(
    "52550a000202525400123456080600010800060400025254001234560a00020f52550a0002020a000202"
      + "000000000000000000000000000000000000")
  /// 10.0.2.2:55398 -> 10.0.2.15:7 "peregrine captured", UDP checksum 0x47c3 by slirp.
  static let slirpDatagram = bytes(
    "52540012345652550a00020208004500002e00000000401162af0a0002020a00020fd8660007001a47c3"
      + "706572656772696e65206361707475726564")
  /// The node's echo of it.
  static let nodeEcho = bytes(
    "52550a00020252540012345608004500002e00014000401122ae0a00020f0a0002020007d866001a47c3"
      + "706572656772696e65206361707475726564")
  /// "x": a 43-byte frame, one payload byte (odd-length checksum).
  static let slirpShortDatagram = bytes(
    "52540012345652550a00020208004500001d00010000401162bf0a0002020a00020fd86600070009975d78")

  func testTheNodeAnswersSlirpsARPRequestByteForByte() {
    var stack = NetworkStack(
      mac: MACAddress(0x52, 0x54, 0, 0x12, 0x34, 0x56),
      interface: InterfaceAddress(
        address: IPv4Address(10, 0, 2, 15), prefix: 24, gateway: IPv4Address(10, 0, 2, 2)))
    stack.bind(port: 7)
    let answer = stack.receive(Self.slirpARPRequest, now: 0)
    XCTAssertEqual(answer.transmit, [Self.nodeARPReply])
    let datagram = stack.receive(Self.slirpDatagram, now: 1)
    XCTAssertEqual(
      datagram.datagram,
      ReceivedDatagram(
        source: IPv4Address(10, 0, 2, 2), sourcePort: 55398, destinationPort: 7,
        payload: Array("peregrine captured".utf8)))
    let echo = stack.sendUDP(
      Array("peregrine captured".utf8), from: 7, to: IPv4Address(10, 0, 2, 2), port: 55398, now: 2)
    XCTAssertEqual(echo, [Self.nodeEcho])
    let short = stack.receive(Self.slirpShortDatagram, now: 3)
    XCTAssertEqual(short.datagram?.payload, Array("x".utf8))
    XCTAssertEqual(stack.counters.totalDropped, 0)
  }

  func testSlirpsChecksumsVerifyAndACorruptedByteIsCaught() throws {
    let frame = try EthernetFrame.parse(Self.slirpDatagram).get()
    let packet = try IPv4Packet.parse(frame.payload).get()
    XCTAssertEqual(packet.identification, 0)
    XCTAssertNotNil(
      try? UDPDatagram.parse(packet.payload, source: packet.source, destination: packet.destination)
        .get())
    var corrupt = packet.payload
    corrupt[corrupt.count - 1] ^= 0x01
    XCTAssertEqual(
      UDPDatagram.parse(corrupt, source: packet.source, destination: packet.destination).failure,
      .badUDPChecksum)
  }
}
