import XCTest

@testable import HypervisorCore

final class VirtualSwitchTests: XCTestCase {
  let macA: UInt64 = 0x5254_0012_3401
  let macB: UInt64 = 0x5254_0012_3402
  let macC: UInt64 = 0x5254_0012_3403
  let remote: UInt64 = 0x5254_0051_0001

  private func threePorts() -> (VirtualSwitch, [SwitchPortID], [RecordingPort], RecordingPort) {
    let networkSwitch = VirtualSwitch()
    var ids: [SwitchPortID] = []
    var ports: [RecordingPort] = []
    for mac in [macA, macB, macC] {
      let port = RecordingPort()
      ids.append(try! networkSwitch.register(mac: mac, receiver: port).get())
      ports.append(port)
    }
    let uplink = RecordingPort()
    networkSwitch.attachUplink(uplink)
    return (networkSwitch, ids, ports, uplink)
  }

  func testUnicastGoesOnlyToTheNamedGuest() {
    let (networkSwitch, ids, ports, uplink) = threePorts()
    let frame = ethernetFrame(to: macC, from: macA)
    XCTAssertEqual(networkSwitch.send(frame, from: ids[0]), .delivered)
    XCTAssertEqual(ports[2].frames, [frame])
    XCTAssertEqual(ports[0].frames.count + ports[1].frames.count + uplink.frames.count, 0)
  }

  func testBroadcastAndMulticastReachEveryPortButTheSource() {
    let (networkSwitch, ids, ports, uplink) = threePorts()
    XCTAssertEqual(
      networkSwitch.send(ethernetFrame(to: EthernetFrame.broadcast, from: macB), from: ids[1]),
      .flooded(ports: 3))
    // 33:33:00:00:00:01, IPv6 all-nodes: a group address.
    XCTAssertEqual(
      networkSwitch.send(ethernetFrame(to: 0x3333_0000_0001, from: macA), from: ids[0]),
      .flooded(ports: 3))
    XCTAssertEqual(ports.map { $0.frames.count }, [1, 1, 2])
    XCTAssertEqual(uplink.frames.count, 2)
    XCTAssertEqual(networkSwitch.statistics.flooded, 2)
  }

  func testUnknownUnicastGoesOutOfTheUplinkOrIsDroppedWithoutOne() {
    let (networkSwitch, ids, ports, uplink) = threePorts()
    XCTAssertEqual(
      networkSwitch.send(ethernetFrame(to: remote, from: macA), from: ids[0]), .toUplink)
    XCTAssertEqual(uplink.frames.count, 1)
    XCTAssertEqual(ports.map { $0.frames.count }, [0, 0, 0])

    let local = VirtualSwitch()
    let port = try! local.register(mac: macA, receiver: RecordingPort()).get()
    XCTAssertEqual(
      local.send(ethernetFrame(to: remote, from: macA), from: port), .dropped(.noRoute))
    XCTAssertEqual(local.send(ethernetFrame(to: macA, from: macA), from: port), .dropped(.noRoute))
    XCTAssertEqual(local.statistics.dropped(.noRoute), 2)
  }

  func testAGuestCannotSendFromAnotherMAC() {
    let (networkSwitch, ids, ports, uplink) = threePorts()
    for source in [macB, remote, EthernetFrame.broadcast, 0] {
      XCTAssertEqual(
        networkSwitch.send(ethernetFrame(to: EthernetFrame.broadcast, from: source), from: ids[0]),
        .dropped(.spoofedSource))
    }
    XCTAssertEqual(ports.map { $0.frames.count } + [uplink.frames.count], [0, 0, 0, 0])
    XCTAssertEqual(networkSwitch.statistics.dropped(.spoofedSource), 4)
    XCTAssertEqual(
      networkSwitch.send(Array(repeating: 0, count: 13), from: ids[0]), .dropped(.runt))
  }

  func testADuplicateMACIsRefusedAndFreedByUnregister() {
    let networkSwitch = VirtualSwitch()
    let first = try! networkSwitch.register(mac: macA, receiver: RecordingPort()).get()
    XCTAssertEqual(
      networkSwitch.register(mac: macA, receiver: RecordingPort()), .failure(.duplicateMAC(macA)))
    XCTAssertEqual(networkSwitch.refusal(for: macA), .duplicateMAC(macA))
    XCTAssertEqual(networkSwitch.refusal(for: 0x0100_5E00_0001), .notUnicast(0x0100_5E00_0001))
    XCTAssertEqual(networkSwitch.refusal(for: 0), .notUnicast(0))
    networkSwitch.unregister(first)
    XCTAssertNil(networkSwitch.refusal(for: macA))
    XCTAssertNotNil(try? networkSwitch.register(mac: macA, receiver: RecordingPort()).get())
  }

  func testFramesFromTheUplinkAreLearnedAndForwardedByDestination() {
    let (networkSwitch, _, ports, uplink) = threePorts()
    XCTAssertEqual(
      networkSwitch.receiveFromUplink(ethernetFrame(to: macB, from: remote), now: 1000), .delivered)
    XCTAssertEqual(
      networkSwitch.receiveFromUplink(ethernetFrame(to: EthernetFrame.broadcast, from: remote)),
      .flooded(ports: 3))
    // Another node's station: not ours, and never back out of the uplink.
    XCTAssertEqual(
      networkSwitch.receiveFromUplink(ethernetFrame(to: remote + 1, from: remote)),
      .dropped(.noRoute))
    XCTAssertEqual(ports.map { $0.frames.count }, [1, 2, 1])
    XCTAssertEqual(uplink.frames.count, 0)
    XCTAssertTrue(networkSwitch.hasLearned(remote))
    XCTAssertEqual(networkSwitch.learnedCount, 1)
    // A MAC in use beyond the uplink is refused until it ages out.
    XCTAssertEqual(networkSwitch.refusal(for: remote, now: 2000), .seenOnNetwork(remote))
    XCTAssertNil(
      networkSwitch.refusal(for: remote, now: 1000 + VirtualSwitch.ageingMilliseconds + 1))
  }

  func testTheUplinkCannotClaimALocalMACAndItsEchoIsDropped() {
    let (networkSwitch, ids, ports, uplink) = threePorts()
    let broadcast = ethernetFrame(to: EthernetFrame.broadcast, from: macA)
    networkSwitch.send(broadcast, from: ids[0])
    // The multicast hub brings our own frame back: dropped, not flooded a second time.
    XCTAssertEqual(networkSwitch.receiveFromUplink(broadcast), .dropped(.badSourceFromUplink))
    XCTAssertEqual(
      networkSwitch.receiveFromUplink(ethernetFrame(to: macB, from: EthernetFrame.broadcast)),
      .dropped(.badSourceFromUplink))
    XCTAssertEqual(ports.map { $0.frames.count }, [0, 1, 1])
    XCTAssertEqual(uplink.frames.count, 1)
    XCTAssertFalse(networkSwitch.hasLearned(macA))
    XCTAssertEqual(networkSwitch.receiveFromUplink([1, 2, 3]), .dropped(.runt))
  }

  func testTheLearnedTableStaysBoundedAndForgetsTheOldest() {
    let networkSwitch = VirtualSwitch()
    _ = try! networkSwitch.register(mac: macA, receiver: RecordingPort()).get()
    let stations = VirtualSwitch.learnedCapacity + 40
    for index in 0..<stations {
      networkSwitch.receiveFromUplink(
        ethernetFrame(to: macA, from: 0x0200_0000_0000 + UInt64(index)), now: UInt64(index))
    }
    XCTAssertEqual(networkSwitch.learnedCount, VirtualSwitch.learnedCapacity)
    XCTAssertFalse(networkSwitch.hasLearned(0x0200_0000_0000))
    XCTAssertTrue(networkSwitch.hasLearned(0x0200_0000_0000 + UInt64(stations - 1)))
  }

  func testARefusingReceiverIsCountedAsSuch() {
    let (networkSwitch, ids, ports, _) = threePorts()
    ports[1].accepts = false
    XCTAssertEqual(
      networkSwitch.send(ethernetFrame(to: macB, from: macA), from: ids[0]),
      .dropped(.receiverRefused))
    XCTAssertEqual(networkSwitch.statistics.dropped(.receiverRefused), 1)
  }

  func testTheSwitchRefusesPortsBeyondItsLimit() {
    let networkSwitch = VirtualSwitch()
    for index in 0..<VirtualSwitch.maximumPorts {
      XCTAssertNotNil(
        try? networkSwitch.register(
          mac: 0x0200_0000_0100 + UInt64(index), receiver: RecordingPort()
        )
        .get())
    }
    XCTAssertEqual(
      networkSwitch.register(mac: 0x0200_0000_0001, receiver: RecordingPort()),
      .failure(.tooManyPorts))
  }
}
