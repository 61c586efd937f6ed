import XCTest

@testable import HypervisorCore

/// Backpressure on the bridged path (docs/guest-io.md, "Backpressure"): a guest's unicast
/// whose receiver has no room is held with its descriptor chain unused, and sent, in order,
/// when the switch wakes the queue; nothing is dropped and nothing is used before it is sent.
final class VirtioNetBackpressureTests: XCTestCase {
  let macA: UInt64 = 0x5254_0012_3401
  let macB: UInt64 = 0x5254_0012_3402
  let macC: UInt64 = 0x5254_0012_3403
  let remote: UInt64 = 0x5254_0051_0001

  private func activeNIC(_ mac: UInt64, on networkSwitch: VirtualSwitch) -> (
    VirtioNetDevice, FakeNetTransport
  ) {
    let nic = VirtioNetDevice(mac: mac)
    XCTAssertNil(nic.connect(to: networkSwitch))
    let transport = FakeNetTransport()
    nic.activate(features: nic.deviceFeatures | 1 << 32, service: transport)
    return (nic, transport)
  }

  /// `count` distinct frames for the uplink, posted on descriptors 0, 1, ...
  private func post(_ count: Int, from mac: UInt64, on transport: FakeNetTransport) -> [[UInt8]] {
    (0..<count).map { index in
      let frame = ethernetFrame(to: remote, from: mac, payload: 46 + index)
      transport.transmit(frame, first: UInt16(index))
      return frame
    }
  }

  func testAFullUplinkHoldsFramesAndDrainsThemOnceInOrder() {
    let networkSwitch = VirtualSwitch()
    let uplink = RecordingPort()
    uplink.room = 2
    networkSwitch.attachUplink(uplink)
    let (nic, tx) = activeNIC(macA, on: networkSwitch)
    let frames = post(7, from: macA, on: tx)

    nic.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(uplink.frames, Array(frames[0..<2]))
    XCTAssertEqual(tx.used(1).map { $0.0 }, [0, 1], "used only what was sent")
    XCTAssertEqual(nic.counters.transmitDeferred, 1)
    XCTAssertTrue(networkSwitch.hasBlocked)

    // The driver rings again while the uplink is still full: nothing moves, no new block.
    nic.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(tx.used(1).count, 2)
    XCTAssertEqual(nic.counters.transmitDeferred, 1)

    // Two buffers come free: two more go, and the queue blocks again.
    uplink.room = 2
    XCTAssertEqual(networkSwitch.resumeBlocked(), 1)
    XCTAssertEqual(uplink.frames, Array(frames[0..<4]))
    XCTAssertEqual(tx.used(1).map { $0.0 }, [0, 1, 2, 3])
    XCTAssertEqual(nic.counters.transmitDeferred, 2)

    // The ring drains: the rest, in order, each once.
    uplink.room = nil
    XCTAssertEqual(networkSwitch.resumeBlocked(), 1)
    XCTAssertEqual(uplink.frames, frames)
    XCTAssertEqual(tx.used(1).map { $0.0 }, (0..<7).map { UInt32($0) })
    XCTAssertFalse(networkSwitch.hasBlocked)
    XCTAssertEqual(networkSwitch.resumeBlocked(), 0)
    XCTAssertEqual(uplink.frames.count, 7)

    let counters = nic.counters
    XCTAssertEqual(counters.totalDrops, 0)
    XCTAssertEqual(counters.transmittedFrames, 7)
    XCTAssertEqual(counters.copies, 7, "a held frame is copied out of the guest once")
    XCTAssertEqual(networkSwitch.statistics.toUplink, 7)
    XCTAssertEqual(networkSwitch.statistics.dropped(.receiverRefused), 0)
  }

  func testOneBlockedQueueDoesNotStallAnotherVM() {
    let networkSwitch = VirtualSwitch()
    let uplink = RecordingPort()
    uplink.room = 0
    networkSwitch.attachUplink(uplink)
    let (blocked, blockedTX) = activeNIC(macA, on: networkSwitch)
    let (other, otherTX) = activeNIC(macC, on: networkSwitch)
    let (_, receiverRX) = activeNIC(macB, on: networkSwitch)
    _ = post(3, from: macA, on: blockedTX)
    blocked.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(blockedTX.used(1).count, 0)

    receiverRX.offerReceive(first: 0)
    let local = ethernetFrame(to: macB, from: macC)
    otherTX.transmit(local)
    other.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(otherTX.used(1).count, 1)
    XCTAssertEqual(receiverRX.used(0).count, 1)
    XCTAssertEqual(other.counters.transmitDeferred, 0)
    XCTAssertEqual(blocked.counters.transmitDeferred, 1)
  }

  func testAFloodIsNotHeldWhenTheUplinkIsFull() {
    let networkSwitch = VirtualSwitch()
    let uplink = RecordingPort()
    uplink.room = 0
    networkSwitch.attachUplink(uplink)
    let (nic, tx) = activeNIC(macA, on: networkSwitch)
    tx.transmit(ethernetFrame(to: EthernetFrame.broadcast, from: macA))
    nic.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(tx.used(1).count, 1)
    XCTAssertEqual(uplink.fullAnswers, 0)
    XCTAssertFalse(networkSwitch.hasBlocked)
  }

  func testADriverNotUpIsStillADrop() {
    let networkSwitch = VirtualSwitch()
    let (sender, tx) = activeNIC(macA, on: networkSwitch)
    let receiver = VirtioNetDevice(mac: macB)
    XCTAssertNil(receiver.connect(to: networkSwitch))
    tx.transmit(ethernetFrame(to: macB, from: macA))
    sender.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(sender.counters.dropped(.transmitPeerRefused), 1)
    XCTAssertEqual(receiver.counters.dropped(.receiveNotReady), 1)
    XCTAssertEqual(sender.counters.transmitDeferred, 0)
    XCTAssertEqual(tx.used(1).count, 1)
  }

  /// A save while a frame is held (checkpoint, migration): its chain is used, unsent and
  /// counted, so the saved ring index and the used ring agree; the next frames go normally.
  func testASaveUsesTheHeldFrameUnsent() {
    let networkSwitch = VirtualSwitch()
    let uplink = RecordingPort()
    uplink.room = 1
    networkSwitch.attachUplink(uplink)
    let (nic, tx) = activeNIC(macA, on: networkSwitch)
    let frames = post(3, from: macA, on: tx)
    nic.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(tx.used(1).map { $0.0 }, [0])

    _ = nic.save()
    XCTAssertEqual(tx.used(1).map { $0.0 }, [0, 1], "the held chain is used at the save")
    XCTAssertEqual(nic.counters.dropped(.transmitHeldAtSave), 1)
    XCTAssertEqual(tx.interrupts[1], 1, "no interrupt for the released chain")
    _ = nic.save()
    XCTAssertEqual(tx.used(1).count, 2, "a second save has nothing left to release")
    XCTAssertEqual(nic.counters.dropped(.transmitHeldAtSave), 1)

    uplink.room = nil
    _ = networkSwitch.resumeBlocked()
    XCTAssertEqual(uplink.frames, [frames[0], frames[2]], "the held frame is not sent late")
    XCTAssertEqual(tx.used(1).map { $0.0 }, [0, 1, 2])
    XCTAssertEqual(nic.counters.dropped(.transmitHeldAtSave), 1)
  }

  func testResetOrDisconnectForgetsTheHeldFrame() {
    let networkSwitch = VirtualSwitch()
    let uplink = RecordingPort()
    uplink.room = 0
    networkSwitch.attachUplink(uplink)
    let (nic, tx) = activeNIC(macA, on: networkSwitch)
    _ = post(2, from: macA, on: tx)
    nic.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertTrue(networkSwitch.hasBlocked)

    // The driver resets (or the VM is released): a wake-up writes nothing into its rings.
    nic.reset()
    uplink.room = nil
    XCTAssertEqual(networkSwitch.resumeBlocked(), 1)
    XCTAssertEqual(uplink.frames.count, 0)
    XCTAssertEqual(tx.used(1).count, 0)
    XCTAssertEqual(tx.interrupts[1], 0)

    // Blocked again after re-activation, then the port leaves: nobody is woken.
    let again = FakeNetTransport()
    nic.activate(features: nic.deviceFeatures | 1 << 32, service: again)
    uplink.room = 0
    _ = post(1, from: macA, on: again)
    nic.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertTrue(networkSwitch.hasBlocked)
    nic.disconnect()
    XCTAssertFalse(networkSwitch.hasBlocked)
    XCTAssertEqual(networkSwitch.resumeBlocked(), 0)
  }

  func testAFaultFoundWhileResumingIsReportedAtTheNextDoorbell() {
    let networkSwitch = VirtualSwitch()
    let uplink = RecordingPort()
    uplink.room = 0
    networkSwitch.attachUplink(uplink)
    let (nic, tx) = activeNIC(macA, on: networkSwitch)
    _ = post(1, from: macA, on: tx)
    nic.queueNotified(VirtioNetDevice.transmitQueue)
    // A second chain whose descriptor points outside guest RAM.
    tx.post(queue: 1, first: 5, [(0x1_0000_0000, 64, false)])
    uplink.room = nil
    networkSwitch.resumeBlocked()
    XCTAssertEqual(uplink.frames.count, 1)
    XCTAssertEqual(tx.faults.count, 0, "not reported from CPU 0's pass")
    nic.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(tx.faults.count, 1)
    XCTAssertEqual(nic.counters.dropped(.queueFault), 1)
  }
}
