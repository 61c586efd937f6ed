import XCTest

@testable import NetworkProtocols

final class NetworkStackTests: XCTestCase {
  static let nodeMAC = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
  static let hostMAC = MACAddress(0x52, 0x55, 0x0A, 0x00, 0x02, 0x02)
  static let node = IPv4Address(10, 0, 2, 15)
  static let host = IPv4Address(10, 0, 2, 2)

  private func makeStack() -> NetworkStack {
    var stack = NetworkStack(
      mac: Self.nodeMAC,
      interface: InterfaceAddress(address: Self.node, prefix: 24, gateway: Self.host))
    stack.bind(port: 7)
    return stack
  }

  private func arpFrame(
    _ operation: ARPPacket.Operation, target: IPv4Address, to: MACAddress = .broadcast
  ) -> [UInt8] {
    EthernetFrame(
      destination: to, source: Self.hostMAC, etherType: EtherType.arp,
      payload: ARPPacket(
        operation: operation, senderMAC: Self.hostMAC, senderIP: Self.host,
        targetMAC: operation == .request ? .zero : Self.nodeMAC, targetIP: target
      ).bytes
    ).bytes
  }

  private func udpFrame(_ payload: [UInt8], port: UInt16, from source: IPv4Address = host)
    -> [UInt8]
  {
    let udp = UDPDatagram(sourcePort: 5555, destinationPort: port, payload: payload)
    let ip = IPv4Packet(
      source: source, destination: Self.node, protocolNumber: IPProtocol.udp,
      payload: udp.bytes(source: source, destination: Self.node))
    return EthernetFrame(
      destination: Self.nodeMAC, source: Self.hostMAC, etherType: EtherType.ipv4, payload: ip.bytes
    ).bytes
  }

  func testAnswersARPForItsAddressOnly() throws {
    var stack = makeStack()
    let answered = stack.receive(arpFrame(.request, target: Self.node), now: 0)
    XCTAssertEqual(answered.transmit.count, 1)
    let frame = try EthernetFrame.parse(answered.transmit[0]).get()
    XCTAssertEqual(frame.destination, Self.hostMAC)
    let reply = try ARPPacket.parse(frame.payload).get()
    XCTAssertEqual(reply.operation, .reply)
    XCTAssertEqual(reply.senderMAC, Self.nodeMAC)
    XCTAssertEqual(reply.senderIP, Self.node)
    XCTAssertEqual(reply.targetIP, Self.host)
    // The request taught the node the asker's MAC (RFC 826).
    XCTAssertEqual(stack.arp.lookup(Self.host, now: 1), Self.hostMAC)

    let other = stack.receive(arpFrame(.request, target: IPv4Address(10, 0, 2, 99)), now: 0)
    XCTAssertTrue(other.transmit.isEmpty)
    XCTAssertEqual(stack.counters.dropped(.notOurAddress), 1)
    XCTAssertEqual(stack.counters.arpRepliesSent, 1)
  }

  func testDeliversUDPToBoundPortsAndCountsTheRest() {
    var stack = makeStack()
    let got = stack.receive(udpFrame(Array("ping".utf8), port: 7), now: 0)
    XCTAssertEqual(
      got.datagram,
      ReceivedDatagram(
        source: Self.host, sourcePort: 5555, destinationPort: 7, payload: Array("ping".utf8)))
    let unbound = stack.receive(udpFrame([1], port: 9), now: 0)
    XCTAssertNil(unbound.datagram)
    XCTAssertEqual(unbound.dropped, .noListener)
    var wrongMAC = udpFrame([1], port: 7)
    wrongMAC[0] = 0x02
    XCTAssertEqual(stack.receive(wrongMAC, now: 0).dropped, .notForThisNode)
    XCTAssertEqual(stack.counters.datagramsDelivered, 1)
    XCTAssertEqual(stack.counters.totalDropped, 2)
  }

  func testReplyWaitsForARPThenGoesOut() throws {
    var stack = makeStack()
    // Off-link destination: the gateway's MAC is asked for first.
    let first = stack.sendUDP([9, 9], from: 7, to: IPv4Address(192, 168, 1, 1), port: 4000, now: 0)
    XCTAssertEqual(first.count, 1)
    let request = try ARPPacket.parse(try EthernetFrame.parse(first[0]).get().payload).get()
    XCTAssertEqual(request.operation, .request)
    XCTAssertEqual(request.targetIP, Self.host)
    // A second datagram waits without a second request.
    XCTAssertTrue(
      stack.sendUDP([8], from: 7, to: IPv4Address(192, 168, 1, 1), port: 4000, now: 1).isEmpty)
    let released = stack.receive(arpFrame(.reply, target: Self.node, to: Self.nodeMAC), now: 2)
    XCTAssertEqual(released.transmit.count, 2)
    let frame = try EthernetFrame.parse(released.transmit[0]).get()
    XCTAssertEqual(frame.destination, Self.hostMAC)
    let ip = try IPv4Packet.parse(frame.payload).get()
    XCTAssertEqual(ip.destination, IPv4Address(192, 168, 1, 1))
    let udp = try UDPDatagram.parse(ip.payload, source: ip.source, destination: ip.destination)
      .get()
    XCTAssertEqual(udp.payload, [9, 9])
    // Known now: the next one goes at once.
    XCTAssertEqual(stack.sendUDP([7], from: 7, to: Self.host, port: 4000, now: 3).count, 1)
  }

  func testUnansweredARPIsRetriedThenGivenUp() {
    var stack = makeStack()
    _ = stack.sendUDP([1], from: 7, to: IPv4Address(10, 0, 2, 77), port: 1, now: 0)
    XCTAssertTrue(stack.tick(now: 500).isEmpty)
    XCTAssertEqual(stack.tick(now: 1000).count, 1)
    XCTAssertEqual(stack.tick(now: 2000).count, 1)
    XCTAssertTrue(stack.tick(now: 3000).isEmpty)
    XCTAssertEqual(stack.counters.unresolvedDrops, 1)
    XCTAssertFalse(stack.awaitsARP)
  }

  func testARPEntriesAge() {
    var cache = ARPCache(capacity: 2, lifetime: 100)
    cache.insert(Self.host, mac: Self.hostMAC, now: 0)
    XCTAssertEqual(cache.lookup(Self.host, now: 99), Self.hostMAC)
    XCTAssertNil(cache.lookup(Self.host, now: 100))
    cache.insert(IPv4Address(1), mac: .zero, now: 10)
    cache.insert(IPv4Address(2), mac: .zero, now: 20)  // full: the oldest (host) goes
    XCTAssertFalse(cache.contains(Self.host))
    cache.age(now: 115)
    XCTAssertEqual(cache.entries.map(\.address), [IPv4Address(2)])
  }

  func testAnswersPingToItsAddress() throws {
    var stack = makeStack()
    _ = stack.receive(arpFrame(.request, target: Self.node), now: 0)  // learns the host
    let echo = ICMPEcho(
      type: ICMPEcho.echoRequest, identifier: 1, sequence: 2, data: Array("abc".utf8))
    let ip = IPv4Packet(
      source: Self.host, destination: Self.node, protocolNumber: IPProtocol.icmp,
      payload: echo.bytes)
    let result = stack.receive(
      EthernetFrame(
        destination: Self.nodeMAC, source: Self.hostMAC, etherType: EtherType.ipv4,
        payload: ip.bytes
      ).bytes, now: 1)
    XCTAssertEqual(result.transmit.count, 1)
    let reply = try IPv4Packet.parse(try EthernetFrame.parse(result.transmit[0]).get().payload)
      .get()
    XCTAssertEqual(reply.destination, Self.host)
    XCTAssertEqual(try ICMPEcho.parse(reply.payload).get(), echo.reply)
  }

  func testUnconfiguredStackAnswersNothing() {
    var stack = NetworkStack(mac: Self.nodeMAC, interface: nil)
    XCTAssertTrue(stack.receive(arpFrame(.request, target: Self.node), now: 0).transmit.isEmpty)
    XCTAssertEqual(stack.counters.dropped(.notConfigured), 1)
    XCTAssertTrue(stack.sendUDP([1], from: 1, to: Self.host, port: 1, now: 0).isEmpty)
  }

  /// Random bytes and mutated real frames, from a fixed seed: the stack never traps, and
  /// every frame is either dropped with a reason or handled.
  func testRandomFramesNeverCrashAndAreCounted() {
    var stack = makeStack()
    var random = SplitMix64(seed: 0x5EED_11)
    let templates = [
      udpFrame(Array("hello".utf8), port: 7), arpFrame(.request, target: Self.node),
      arpFrame(.reply, target: Self.node, to: Self.nodeMAC),
    ]
    var handled: UInt64 = 0
    for round in 0..<20_000 {
      var frame: [UInt8]
      if round % 2 == 0 {
        frame = (0..<Int(random.next() % 1600)).map { _ in UInt8(truncatingIfNeeded: random.next())
        }
      } else {
        frame = templates[Int(random.next() % 3)]
        for _ in 0..<(1 + random.next() % 4) where !frame.isEmpty {
          frame[Int(random.next() % UInt64(frame.count))] = UInt8(truncatingIfNeeded: random.next())
        }
        if random.next() % 4 == 0 {
          frame = Array(frame.prefix(Int(random.next() % UInt64(frame.count + 1))))
        }
      }
      let result = stack.receive(frame, now: UInt64(round))
      if result.dropped == nil { handled += 1 }
      _ = stack.tick(now: UInt64(round))
    }
    XCTAssertEqual(stack.counters.framesReceived, 20_000)
    XCTAssertEqual(stack.counters.totalDropped + handled, 20_000)
    XCTAssertGreaterThan(stack.counters.totalDropped, 10_000)
  }
}

/// A small deterministic generator for reproducible random input.
struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
