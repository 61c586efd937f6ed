import XCTest

@testable import NetworkProtocols

final class DHCPClientTests: XCTestCase {
  static let mac = MACAddress(0x52, 0x54, 0, 0x12, 0x34, 0x56)
  static let server = IPv4Address(10, 0, 2, 2)
  static let offered = IPv4Address(10, 0, 2, 15)

  /// A server's reply to `request` (RFC 2131 §4.3).
  private func reply(
    to request: [UInt8], kind: DHCPMessage.Kind, lease: UInt32 = 86400, xid: UInt32? = nil
  ) -> [UInt8] {
    let message = DHCPMessage.parse(request)!
    return DHCPMessage(
      operation: 2, transaction: xid ?? message.transaction, yourAddress: Self.offered,
      clientMAC: message.clientMAC, kind: kind,
      options: [
        (DHCPMessage.Option.serverIdentifier, Self.server.octets),
        (DHCPMessage.Option.subnetMask, [255, 255, 255, 0]),
        (DHCPMessage.Option.router, Self.server.octets),
        (
          DHCPMessage.Option.leaseTime,
          [
            UInt8(lease >> 24), UInt8((lease >> 16) & 0xFF), UInt8((lease >> 8) & 0xFF),
            UInt8(lease & 0xFF),
          ]
        ),
      ]
    ).bytes
  }

  private func payload(_ action: DHCPClient.Action?) -> [UInt8]? {
    switch action {
    case .broadcast(let bytes): return bytes
    case .unicast(let bytes, _): return bytes
    default: return nil
    }
  }

  func testDiscoverOfferRequestAck() throws {
    var client = DHCPClient(mac: Self.mac, transaction: 7)
    let discover = try XCTUnwrap(payload(client.start(now: 0)))
    let parsed = try XCTUnwrap(DHCPMessage.parse(discover))
    XCTAssertEqual(parsed.kind, .discover)
    XCTAssertEqual(parsed.flags, 0x8000)  // answer by broadcast: no address yet
    XCTAssertEqual(parsed.clientMAC, Self.mac)
    XCTAssertEqual(Array(discover[236..<240]), [99, 130, 83, 99])

    let request = try XCTUnwrap(payload(client.receive(reply(to: discover, kind: .offer), now: 10)))
    let asked = try XCTUnwrap(DHCPMessage.parse(request))
    XCTAssertEqual(asked.kind, .request)
    XCTAssertEqual(asked.address(option: DHCPMessage.Option.requestedAddress), Self.offered)
    XCTAssertEqual(asked.address(option: DHCPMessage.Option.serverIdentifier), Self.server)
    XCTAssertEqual(asked.transaction, parsed.transaction)

    let bound = client.receive(reply(to: request, kind: .acknowledge), now: 20)
    XCTAssertEqual(
      bound,
      .bound(
        InterfaceAddress(address: Self.offered, prefix: 24, gateway: Self.server),
        leaseSeconds: 86400, server: Self.server))
    XCTAssertEqual(client.state, .bound)
  }

  func testRepliesForOthersAreIgnoredAndRetransmissionsBackOff() throws {
    var client = DHCPClient(mac: Self.mac, transaction: 7)
    let discover = try XCTUnwrap(payload(client.start(now: 0)))
    XCTAssertNil(client.receive(reply(to: discover, kind: .offer, xid: 999), now: 1))
    XCTAssertNil(client.receive(reply(to: discover, kind: .acknowledge), now: 1))  // not expected yet
    XCTAssertNil(client.receive([1, 2, 3], now: 1))
    XCTAssertNil(client.tick(now: 3999))
    XCTAssertNotNil(payload(client.tick(now: 4000)))
    XCTAssertNil(client.tick(now: 11999))
    XCTAssertNotNil(payload(client.tick(now: 12000)))  // 8 s later
    XCTAssertEqual(client.state, .selecting)
  }

  func testRenewsAtHalfTheLeaseAndLosesItAtTheEnd() throws {
    var client = DHCPClient(mac: Self.mac, transaction: 1)
    let discover = try XCTUnwrap(payload(client.start(now: 0)))
    let request = try XCTUnwrap(
      payload(client.receive(reply(to: discover, kind: .offer, lease: 100), now: 0)))
    _ = client.receive(reply(to: request, kind: .acknowledge, lease: 100), now: 0)
    XCTAssertNil(client.tick(now: 49_999))
    guard case .unicast(let renewal, let to) = client.tick(now: 50_000) else {
      return XCTFail("no renewal at T1")
    }
    XCTAssertEqual(to, Self.server)
    let message = try XCTUnwrap(DHCPMessage.parse(renewal))
    XCTAssertEqual(message.clientAddress, Self.offered)
    XCTAssertNil(message.option(DHCPMessage.Option.requestedAddress))
    XCTAssertEqual(client.tick(now: 100_000), .lost)
    XCTAssertEqual(client.state, .selecting)
    XCTAssertNil(client.lease)
  }

  func testANakStartsOver() throws {
    var client = DHCPClient(mac: Self.mac, transaction: 1)
    let discover = try XCTUnwrap(payload(client.start(now: 0)))
    let request = try XCTUnwrap(payload(client.receive(reply(to: discover, kind: .offer), now: 0)))
    let again = try XCTUnwrap(
      payload(client.receive(reply(to: request, kind: .negativeAcknowledge), now: 5)))
    XCTAssertEqual(DHCPMessage.parse(again)?.kind, .discover)
  }

  func testMalformedMessagesAreRefused() {
    var random = SplitMix64(seed: 68)
    var good = DHCPMessage(operation: 2, transaction: 1, clientMAC: Self.mac, kind: .offer).bytes
    XCTAssertNotNil(DHCPMessage.parse(good))
    good[good.count - 3] = 200  // the message type's length runs past the end
    XCTAssertNil(DHCPMessage.parse(Array(good.dropLast(2))))
    for _ in 0..<5000 {
      var bytes = DHCPMessage(operation: 2, transaction: 1, clientMAC: Self.mac, kind: .acknowledge)
        .bytes
      for _ in 0..<3 {
        bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
      }
      bytes += (0..<Int(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
      _ = DHCPMessage.parse(bytes)
    }
  }

  func testTheStackDeliversDHCPBeforeItHasAnAddress() throws {
    var stack = NetworkStack(mac: Self.mac, interface: nil)
    stack.bind(port: DHCPMessage.clientPort)
    let frame = try XCTUnwrap(stack.broadcastUDP([1, 2, 3], from: 68, port: 67))
    let ip = try IPv4Packet.parse(try EthernetFrame.parse(frame).get().payload).get()
    XCTAssertEqual(ip.source, .any)
    XCTAssertEqual(ip.destination, .broadcast)
    // The server's answer to the offered address, before the node has it.
    let answer = UDPDatagram(sourcePort: 67, destinationPort: 68, payload: [9])
    let packet = IPv4Packet(
      source: Self.server, destination: Self.offered, protocolNumber: IPProtocol.udp,
      payload: answer.bytes(source: Self.server, destination: Self.offered))
    let got = stack.receive(
      EthernetFrame(
        destination: Self.mac, source: .broadcast, etherType: EtherType.ipv4, payload: packet.bytes
      ).bytes, now: 0)
    XCTAssertEqual(got.datagram?.payload, [9])
    // Anything else still waits for the address.
    let other = UDPDatagram(sourcePort: 67, destinationPort: 7, payload: [9])
    let packet7 = IPv4Packet(
      source: Self.server, destination: Self.offered, protocolNumber: IPProtocol.udp,
      payload: other.bytes(source: Self.server, destination: Self.offered))
    XCTAssertEqual(
      stack.receive(
        EthernetFrame(
          destination: Self.mac, source: .broadcast, etherType: EtherType.ipv4,
          payload: packet7.bytes
        ).bytes, now: 0
      ).dropped, .noListener)
  }
}
