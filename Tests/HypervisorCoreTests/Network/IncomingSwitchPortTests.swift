import XCTest

@testable import HypervisorCore

/// A migrated VM's NIC on the target node's switch: dormant while the source copy still
/// runs (and is seen beyond the uplink), active and announced once the VM starts here.
final class IncomingSwitchPortTests: XCTestCase {
  let local: UInt64 = 0x5254_0012_3401
  let moving: UInt64 = 0x5254_0012_7001
  let peer: UInt64 = 0x5254_0000_70AA

  /// A switch with one running guest (`local`) and an uplink, on which the moving VM's
  /// source copy has been heard.
  private func targetNode() -> (VirtualSwitch, SwitchPortID, RecordingPort, RecordingPort) {
    let networkSwitch = VirtualSwitch()
    let guest = RecordingPort()
    let id = try! networkSwitch.register(mac: local, receiver: guest).get()
    let uplink = RecordingPort()
    networkSwitch.attachUplink(uplink)
    networkSwitch.receiveFromUplink(ethernetFrame(to: local, from: moving), now: 1000)
    guest.frames.removeAll()
    return (networkSwitch, id, guest, uplink)
  }

  func testAnIncomingPortTakesAMACSeenOnTheNetworkAndReservesIt() {
    let (networkSwitch, _, _, _) = targetNode()
    XCTAssertEqual(
      networkSwitch.register(mac: moving, receiver: RecordingPort(), now: 1500),
      .failure(.seenOnNetwork(moving)))
    XCTAssertNotNil(
      try? networkSwitch.register(mac: moving, receiver: RecordingPort(), now: 1500, incoming: true)
        .get())
    // Reserved: neither a create nor a second incoming VM can take it on this node.
    XCTAssertEqual(networkSwitch.refusal(for: moving, now: 1500), .duplicateMAC(moving))
    XCTAssertEqual(
      networkSwitch.refusal(for: moving, now: 1500, incoming: true), .duplicateMAC(moving))
  }

  func testADormantPortIsNotForwardedToAndTheSourceCopyStaysReachable() {
    let (networkSwitch, localID, guest, uplink) = targetNode()
    let dormant = RecordingPort()
    let dormantID = try! networkSwitch.register(
      mac: moving, receiver: dormant, now: 1500, incoming: true
    ).get()
    // This node's guest reaches the running source copy through the uplink.
    XCTAssertEqual(
      networkSwitch.send(ethernetFrame(to: moving, from: local), from: localID), .toUplink)
    // The source copy's broadcasts (its ARP) still reach this node's guest, and are learned.
    let broadcast = ethernetFrame(to: EthernetFrame.broadcast, from: moving)
    XCTAssertEqual(networkSwitch.receiveFromUplink(broadcast, now: 1600), .flooded(ports: 1))
    XCTAssertEqual(guest.frames, [broadcast])
    // Frames for the moving MAC from beyond the uplink are the source copy's, not ours.
    XCTAssertEqual(
      networkSwitch.receiveFromUplink(ethernetFrame(to: moving, from: peer), now: 1700),
      .dropped(.noRoute))
    XCTAssertTrue(dormant.frames.isEmpty)
    // A dormant port sends nothing (its VM does not run yet).
    XCTAssertEqual(
      networkSwitch.send(ethernetFrame(to: local, from: moving), from: dormantID),
      .dropped(.spoofedSource))
    XCTAssertEqual(uplink.frames.count, 1)
  }

  func testActivationForwardsToTheVMAndAnnouncesItsMAC() {
    let (networkSwitch, localID, guest, uplink) = targetNode()
    let nic = RecordingPort()
    let id = try! networkSwitch.register(mac: moving, receiver: nic, now: 1500, incoming: true)
      .get()
    XCTAssertTrue(networkSwitch.activate(id))
    XCTAssertFalse(networkSwitch.activate(id), "only a dormant port is activated")
    XCTAssertFalse(networkSwitch.hasLearned(moving))
    let announcement = EthernetFrame.announcement(from: moving)
    XCTAssertEqual(uplink.frames, [announcement])
    XCTAssertEqual(guest.frames, [announcement])
    XCTAssertTrue(nic.frames.isEmpty, "not to its own port")
    XCTAssertEqual(networkSwitch.statistics.announced, 1)
    // Now a local port like any other.
    XCTAssertEqual(
      networkSwitch.send(ethernetFrame(to: moving, from: local), from: localID), .delivered)
    XCTAssertEqual(
      networkSwitch.receiveFromUplink(ethernetFrame(to: moving, from: peer), now: 2000),
      .delivered)
    XCTAssertEqual(nic.frames.count, 2)
    XCTAssertEqual(
      networkSwitch.receiveFromUplink(ethernetFrame(to: peer, from: moving), now: 2100),
      .dropped(.badSourceFromUplink))
  }

  func testTheAnnouncementIsABroadcastReverseARPRequestFromTheMAC() {
    let frame = EthernetFrame.announcement(from: moving)
    XCTAssertEqual(frame.count, 60)
    XCTAssertEqual(EthernetFrame.destination(frame), EthernetFrame.broadcast)
    XCTAssertEqual(EthernetFrame.source(frame), moving)
    XCTAssertEqual(Array(frame[12..<22]), [0x80, 0x35, 0, 1, 0x08, 0x00, 6, 4, 0, 3])
    XCTAssertEqual(EthernetFrame.address(frame, at: 22), moving)
    XCTAssertEqual(EthernetFrame.address(frame, at: 32), moving)
    XCTAssertEqual(Array(frame[28..<32]) + Array(frame[38..<60]), [UInt8](repeating: 0, count: 26))
  }
}
