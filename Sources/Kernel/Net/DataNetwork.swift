import CArch
import HypervisorCore
import NetworkProtocols
import PCI

/// The node's guest network: the `VirtualSwitch` every guest NIC of the node is a port of,
/// and its uplink, the node's data NIC (docs/guest-io.md). The data NIC is the modern
/// virtio-net function in PCI slot `slot` of bus 0, where `peregrine node up` and
/// scripts/run-qemu.sh (PEREGRINE_DATA_NET) put it on QEMU's multicast socket segment, the
/// hub that links nodes without privileges (docs/management-network.md). It has no IP
/// stack: frames pass between it and the switch unchanged. QEMU's socket back end hands the
/// NIC every frame on the segment whatever its destination (the virtio-net model filters
/// only with VIRTIO_NET_F_CTRL_RX, which the driver does not accept), so no promiscuous
/// setting is needed; the switch drops what is for no local guest.
///
/// Receiving is CPU 0's, like the management network's: polled on every scheduler pass
/// there, woken by the NIC's MSI-X interrupt (the management vector, whose handler ends
/// CPU 0's guest slice). Sending comes from any CPU a guest transmits on; `UplinkPort`'s
/// lock serializes the driver. The switch's lock is never taken with the driver's held.
enum DataNetwork {
  /// The data NIC's PCI slot (device number on bus 0): fixed, so that neither network takes
  /// the other's NIC whatever order the emulator enumerates them in.
  static let slot: UInt8 = 0x10

  /// The node's switch: guest ports only until an uplink is found.
  static let virtualSwitch = VirtualSwitch()
  /// The data NIC, or nil. Set once at boot.
  nonisolated(unsafe) static var uplink: UplinkPort?

  /// Whether `function` is the data NIC's slot (the management network leaves it alone).
  static func isDataSlot(_ function: PCIFunction) -> Bool {
    function.address.bus == 0 && function.address.device == slot
  }

  /// Starts the data NIC if the node has one.
  static func start() {
    let functions = PCIBus.enumerate()
    guard
      let nic = functions.first(where: {
        isDataSlot($0)
          && VirtioPCIIdentity.isNetwork(vendor: $0.header.vendorID, device: $0.header.deviceID)
      })
    else {
      Log.debug(
        "net: no data NIC (virtio-net in slot 0x10): guest NICs reach this node's guests only")
      return
    }
    switch VirtioNetDevice.start(nic, apicID: CPUs.all[0].apicID) {
    case .success(let device):
      PassthroughDevices.reserve(
        nic.address, role: "is the node's data NIC (the guest switch's uplink)")
      let port = UplinkPort(device)
      uplink = port
      virtualSwitch.attachUplink(port)
      if Log.begin(.info) {
        Console.write("net: data NIC ")
        NetLog.mac(device.mac)
        Console.write(" is the guest switch's uplink")
        Console.write(device.usesInterrupts ? ", MSI-X on cpu 0" : ", polled on cpu 0")
        Log.end()
      }
    case .failure:
      Log.error("net: the data NIC (virtio-net in slot 0x10) did not start")
    }
  }

  /// CPU 0, every scheduler pass: the frames the data NIC received, into the switch. They
  /// are taken under the driver's lock and forwarded after it is released.
  static func service() {
    // Guest transmit queues blocked on a full receiver (the data NIC's transmit ring, a
    // guest's receive queue) offer their held frames again: each a bounded batch.
    virtualSwitch.resumeBlocked()
    guard let uplink else { return }
    let frames = uplink.take(limit: ManagementNetwork.batch)
    guard !frames.isEmpty else { return }
    let now = ManagementNetwork.milliseconds()
    for frame in frames { virtualSwitch.receiveFromUplink(frame, now: now) }
  }

  /// Whether CPU 0 has data-NIC work now (checked before it sleeps).
  static var hasWork: Bool { uplink?.hasReceived ?? false }

  /// A polled data NIC (no MSI-X) is looked at this often while CPU 0 sleeps; a blocked
  /// guest transmit queue every millisecond (no interrupt says the data NIC's transmit ring
  /// drained, nor that a guest added receive buffers).
  static func wakeDeadline() -> UInt64? {
    if virtualSwitch.hasBlocked { return arch_rdtsc() &+ LocalAPIC.tscPerMillisecond }
    guard let uplink, !uplink.device.usesInterrupts else { return nil }
    return arch_rdtsc() &+ ManagementNetwork.pollMilliseconds &* LocalAPIC.tscPerMillisecond
  }

  static var needsPollTicks: Bool {
    guard let uplink else { return false }
    return !uplink.device.usesInterrupts
  }
}

/// The switch's uplink port: the data NIC's driver behind its own lock.
final class UplinkPort: SwitchPortReceiver {
  let device: VirtioNetDevice
  private let lock = TicketLock()
  /// Frames sent out and received, and frames the transmit ring had no room for.
  private(set) var sentFrames: UInt64 = 0
  private(set) var receivedFrames: UInt64 = 0

  init(_ device: VirtioNetDevice) { self.device = device }

  /// A frame for the segment (a guest's, forwarded by the switch on its CPU). A full
  /// transmit ring is `.full` for a guest's unicast (it waits, and CPU 0's pass wakes it
  /// once the device has used some buffers); a flood finding it full is dropped.
  func receiveFrame(_ frame: [UInt8], canWait: Bool) -> SwitchReceipt {
    lock.withLock {
      guard device.send(frame) else { return canWait ? .full : .dropped }
      sentFrames &+= 1
      return .taken
    }
  }

  func take(limit: Int) -> [[UInt8]] {
    lock.withLock {
      var frames: [[UInt8]] = []
      receivedFrames &+= UInt64(device.receiveFrames(limit: limit) { frames.append($0) })
      return frames
    }
  }

  var hasReceived: Bool { lock.withLock { device.hasReceived } }

  var transmitFull: UInt64 { device.transmitFull }
}
