import XCTest

@testable import NetworkProtocols

final class ChecksumAndHeaderTests: XCTestCase {
  /// The RFC 1071 §3 example: words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement).
  func testRFC1071Example() {
    let bytes: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
    XCTAssertEqual(InternetChecksum.of(bytes), ~UInt16(0xDDF2))
  }

  func testOddLengthPadsWithZero() {
    XCTAssertEqual(InternetChecksum.of([0x12]), ~UInt16(0x1200))
    XCTAssertEqual(InternetChecksum.of([]), 0xFFFF)
  }

  /// A real IPv4 header (192.168.0.1 -> 192.168.0.199, UDP, checksum 0xb861).
  static let header: [UInt8] = [
    0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xB8, 0x61, 0xC0, 0xA8, 0x00,
    0x01, 0xC0, 0xA8, 0x00, 0xC7,
  ]

  func testParsesARealIPv4Header() throws {
    let packet = Self.header + Array(repeating: 0, count: 0x73 - 20)
    let parsed = try IPv4Packet.parse(packet).get()
    XCTAssertEqual(parsed.source, IPv4Address(192, 168, 0, 1))
    XCTAssertEqual(parsed.destination, IPv4Address(192, 168, 0, 199))
    XCTAssertEqual(parsed.protocolNumber, IPProtocol.udp)
    XCTAssertEqual(parsed.payload.count, 0x73 - 20)
  }

  func testBuildsTheSameHeaderChecksum() {
    let built = IPv4Packet(
      source: IPv4Address(192, 168, 0, 1), destination: IPv4Address(192, 168, 0, 199),
      protocolNumber: IPProtocol.udp, payload: Array(repeating: 0, count: 0x73 - 20),
      timeToLive: 64, identification: 0
    ).bytes
    XCTAssertEqual(Array(built[0..<20]), Self.header)
  }

  func testIPv4RefusalsAreNamed() {
    var packet = Self.header + Array(repeating: 0, count: 0x73 - 20)
    XCTAssertEqual(IPv4Packet.parse(Array(packet[0..<19])).failure, .truncatedIPv4)
    packet[11] ^= 1
    XCTAssertEqual(IPv4Packet.parse(packet).failure, .badIPv4Checksum)
    packet[11] ^= 1
    XCTAssertEqual(IPv4Packet.parse(Array(packet[0..<100])).failure, .malformedIPv4)
    var options = packet
    options[0] = 0x46
    XCTAssertEqual(IPv4Packet.parse(options).failure, .ipv4Options)
    var version6 = packet
    version6[0] = 0x65
    XCTAssertEqual(IPv4Packet.parse(version6).failure, .notIPv4)
    XCTAssertEqual(IPv4Packet.parse(fragment(packet, flags: 0x2000)).failure, .ipv4Fragment)
    XCTAssertEqual(IPv4Packet.parse(fragment(packet, flags: 0x0010)).failure, .ipv4Fragment)
    XCTAssertEqual(IPv4Packet.parse(fragment(packet, flags: 0x8000)).failure, .malformedIPv4)
  }

  /// The header with other flags/offset and its checksum made right again.
  private func fragment(_ packet: [UInt8], flags: UInt16) -> [UInt8] {
    var out = packet
    out.setBE16(flags, at: 6)
    out.setBE16(0, at: 10)
    out.setBE16(InternetChecksum.of(out, from: 0, to: 20), at: 10)
    return out
  }

  func testUDPChecksumIncludesThePseudoHeader() throws {
    let source = IPv4Address(10, 0, 2, 2)
    let destination = IPv4Address(10, 0, 2, 15)
    let datagram = UDPDatagram(sourcePort: 40000, destinationPort: 7, payload: Array("hello".utf8))
    let bytes = datagram.bytes(source: source, destination: destination)
    XCTAssertEqual(
      try UDPDatagram.parse(bytes, source: source, destination: destination).get(), datagram)
    // The same bytes from another address fail: the pseudo-header is in the sum.
    XCTAssertEqual(
      UDPDatagram.parse(bytes, source: IPv4Address(10, 0, 2, 3), destination: destination).failure,
      .badUDPChecksum)
    var unchecked = bytes
    unchecked.setBE16(0, at: 6)
    XCTAssertNotNil(
      try? UDPDatagram.parse(unchecked, source: IPv4Address(1, 2, 3, 4), destination: destination)
        .get())
    var long = bytes
    long.setBE16(200, at: 4)
    XCTAssertEqual(
      UDPDatagram.parse(long, source: source, destination: destination).failure, .malformedUDP)
    XCTAssertEqual(
      UDPDatagram.parse([1, 2, 3], source: source, destination: destination).failure, .truncatedUDP)
  }

  func testICMPEchoReplyKeepsIdentifierSequenceAndData() throws {
    let request = ICMPEcho(
      type: ICMPEcho.echoRequest, identifier: 0x1234, sequence: 7, data: [1, 2, 3])
    let parsed = try ICMPEcho.parse(request.bytes).get()
    XCTAssertEqual(parsed, request)
    let reply = try ICMPEcho.parse(parsed.reply.bytes).get()
    XCTAssertEqual(reply.type, ICMPEcho.echoReply)
    XCTAssertEqual(reply.identifier, 0x1234)
    XCTAssertEqual(reply.sequence, 7)
    XCTAssertEqual(reply.data, [1, 2, 3])
    var corrupt = request.bytes
    corrupt[9] ^= 0xFF
    XCTAssertEqual(ICMPEcho.parse(corrupt).failure, .badICMPChecksum)
  }

  func testEthernetFramesArePaddedAndTyped() throws {
    let frame = EthernetFrame(
      destination: .broadcast, source: MACAddress(0x52, 0x54, 0, 0x12, 0x34, 0x56),
      etherType: EtherType.arp, payload: [1, 2, 3])
    XCTAssertEqual(frame.bytes.count, 60)
    let parsed = try EthernetFrame.parse(frame.bytes).get()
    XCTAssertEqual(parsed.source, frame.source)
    XCTAssertEqual(parsed.etherType, EtherType.arp)
    XCTAssertEqual(EthernetFrame.parse(Array(frame.bytes[0..<13])).failure, .truncatedEthernet)
    var llc = frame.bytes
    llc.setBE16(100, at: 12)
    XCTAssertEqual(EthernetFrame.parse(llc).failure, .notEthernetII)
  }
}

extension Result {
  var failure: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
