/// A guest's network card: the virtio-net device model (virtio 1.1 §5.1) behind a virtio
/// transport, with the MAC from the VM's profile, one port of the node's `VirtualSwitch`.
/// Features VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS, no offloads, no mergeable buffers: a
/// transmit request is a 12-byte virtio_net_hdr (§5.1.6, VERSION_1 layout) and one whole
/// frame; a receive buffer takes a header and one whole frame. Queue 0 receives, queue 1
/// transmits (§5.1.2).
///
/// Two sides, two locks (docs/guest-io.md, "Locks"):
/// - transmit runs in a vCPU's exit (the doorbell of queue 1) under the VM's device lock,
///   and on CPU 0's poll pass when the switch wakes a blocked queue (`resumeTransmit`,
///   no device lock): both take `transmitLock`, which guards queue 1, the held frame and
///   the transmit counters. Each frame is copied out of guest memory and handed to the
///   switch, which may deliver it to another VM on another CPU. When its receiver has no
///   room (the uplink's transmit ring, a local guest's receive queue) the frame is held and
///   its descriptor chain is not used until the switch takes it: backpressure, as a virtio
///   backend gives, instead of a drop that TCP would pay for with its retransmission timer;
/// - receive is fed by the switch from any CPU, with or without this VM's device lock, and
///   takes only `receiveLock`, which guards queue 0 and the receive counters. Activation
///   and reset (under the device lock) take both locks, so no delivery or resumed transmit
///   touches a queue the driver is tearing down (or memory of a VM being released). The
///   order is always device lock → transmit lock → switch → receive lock.
/// A fault found on the receive side or in a resumed transmit is remembered and reported to
/// the transport (`deviceNeedsReset`) at the VM's next doorbell, under its device lock.
public final class VirtioNetDevice: VirtioDeviceModel, SwitchPortReceiver, SwitchPortSender {
  /// Device feature bits (§5.1.3).
  public static let featureMTU: UInt64 = 1 << 3
  public static let featureMAC: UInt64 = 1 << 5
  public static let featureStatus: UInt64 = 1 << 16
  /// struct virtio_net_hdr with num_buffers (§5.1.6): flags, gso_type u8; hdr_len,
  /// gso_size, csum_start, csum_offset, num_buffers u16.
  public static let headerLength = 12
  /// VIRTIO_NET_S_LINK_UP (§5.1.4).
  public static let linkUp: UInt16 = 1
  public static let receiveQueue = 0
  public static let transmitQueue = 1
  /// A request spanning more is a fault (a guest's own limit would be far below); between
  /// a frame's 1,526 bytes and this it is dropped and counted.
  static let requestLimit: UInt64 = 1 << 20

  public let mac: UInt64
  public let deviceType: UInt16 = 1
  public let deviceFeatures: UInt64 = featureMAC | featureStatus
  public let queueCount = 2
  public let maximumQueueSize: UInt16 = 256
  /// mac[6], status u16 (§5.1.4).
  public let configurationSize = 8

  // Transmit side: `transmitLock` (taken under the VM's device lock, or alone on CPU 0).
  let transmitLock = TicketLock()
  private var transmitService: (any VirtioQueueService)?
  private var transmitCounters = VirtioNetCounters()
  /// The frame the switch had no room for and its chain, taken from the available ring but
  /// not yet used: offered again before anything else, so frames leave in order.
  private var held: (head: UInt16, frame: [UInt8])?
  /// Whether the held frame was already counted `transmitDeferred`.
  private var deferred = false
  var transmitFault: VirtqueueFault?
  /// Set when the port is made, before any transmit; read under `transmitLock`.
  private var port: (switch: VirtualSwitch, id: SwitchPortID)?

  // Receive side: `receiveLock`.
  let receiveLock = TicketLock()
  private var receiveService: (any VirtioQueueService)?
  private var receiveCounters = VirtioNetCounters()
  var receiveFault: VirtqueueFault?

  public init(mac: UInt64) { self.mac = mac }

  /// The NIC's counters, both sides.
  public var counters: VirtioNetCounters {
    let received = receiveLock.withLock { receiveCounters }
    return transmitLock.withLock { transmitCounters } + received
  }

  // MARK: The switch

  /// Becomes a port of `networkSwitch`; refused (the VM is not created) when the MAC is in
  /// use on this node or the network. `incoming` (a VM migrated or restored here): a dormant
  /// port, which `activate` wakes when the VM starts (`VirtualSwitch.register`).
  public func connect(to networkSwitch: VirtualSwitch, now: UInt64 = 0, incoming: Bool = false)
    -> SwitchRefusal?
  {
    switch networkSwitch.register(
      mac: mac, receiver: self, sender: self, now: now, incoming: incoming)
    {
    case .success(let id):
      port = (networkSwitch, id)
      return nil
    case .failure(let refusal): return refusal
    }
  }

  /// The incoming VM starts here: its port forwards from now on, and the MAC is announced.
  public func activate() {
    guard let port else { return }
    port.switch.activate(port.id)
  }

  /// Leaves the switch (the VM ends): when this returns, no CPU delivers to the NIC.
  public func disconnect() {
    guard let port else { return }
    port.switch.unregister(port.id)
    self.port = nil
  }

  // MARK: VirtioDeviceModel

  public func readConfiguration(offset: Int, size: Int) -> UInt32 {
    var value: UInt32 = 0
    for index in 0..<min(max(size, 0), 4) {
      value |= UInt32(configurationByte(offset + index)) << (8 * UInt32(index))
    }
    return value
  }

  private func configurationByte(_ offset: Int) -> UInt8 {
    switch offset {
    case 0..<6: UInt8(truncatingIfNeeded: mac >> UInt64(8 * (5 - offset)))
    case 6: UInt8(truncatingIfNeeded: Self.linkUp)
    default: 0
    }
  }

  /// The MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR (§5.1.4.2: a modern driver
  /// does not write it); writes are ignored.
  public func writeConfiguration(offset: Int, size: Int, value: UInt32) {}

  public func activate(features: UInt64, service: any VirtioQueueService) {
    transmitLock.withLock {
      transmitService = service
      held = nil
      deferred = false
      transmitFault = nil
    }
    receiveLock.withLock {
      receiveService = service
      receiveFault = nil
    }
  }

  public func reset() {
    transmitLock.withLock {
      transmitService = nil
      held = nil
      deferred = false
      transmitFault = nil
    }
    receiveLock.withLock {
      receiveService = nil
      receiveFault = nil
    }
  }

  public func queueNotified(_ queue: Int) {
    let receiveFault = receiveLock.withLock { self.receiveFault }
    transmitLock.withLock {
      // Counted on the transmit side.
      transmitCounters.notifications &+= 1
      guard let service = transmitService else { return }
      if let fault = receiveFault ?? transmitFault {
        // Faults found elsewhere are reported from here, under the VM's device lock.
        fail(service, fault)
        return
      }
      // Queue 0's doorbell says buffers were added: a frame without a buffer was dropped
      // or is held by its sender, whom the switch wakes; only transmit has work here.
      guard queue == Self.transmitQueue else { return }
      transmitLocked(service, reportFaults: true)
    }
  }

  // MARK: Transmit

  /// The switch's wake-up after a `.blocked` answer (CPU 0, no lock held): the held frame
  /// again, then the rest of the queue, as a doorbell would. A fault is kept for the next
  /// doorbell: only the VM's device lock may report it to the transport.
  public func resumeTransmit() {
    transmitLock.withLock {
      guard let service = transmitService, transmitFault == nil else { return }
      transmitLocked(service, reportFaults: false)
    }
  }

  /// Serves queue 1 until it is empty, a frame is held or the bound is reached (two rings'
  /// worth, though the driver keeps adding). A chain is used only once its frame is sent
  /// or dropped for good, so the driver sees its ring fill while the switch has no room.
  private func transmitLocked(_ service: any VirtioQueueService, reportFaults: Bool) {
    var used = 0
    defer { if used > 0 { service.signalUsed(queue: Self.transmitQueue) } }
    for _ in 0..<(2 * Int(maximumQueueSize)) {
      if held == nil {
        let chain: DescriptorChain
        do {
          guard
            let next = try service.nextRequest(
              queue: Self.transmitQueue, maximumLength: Self.requestLimit)
          else { return }
          chain = next
        } catch {
          keepOrReport(service, error, reportFaults)
          return
        }
        // A malformed frame (counted by frameOf) is used at once with nothing sent.
        held = (chain.head, frameOf(chain, memory: service.memory) ?? [])
      }
      guard let (head, frame) = held else { return }
      if !frame.isEmpty, !forward(frame) { return }
      held = nil
      do {
        try service.complete(queue: Self.transmitQueue, head: head, written: 0)
      } catch {
        keepOrReport(service, error, reportFaults)
        return
      }
      used += 1
    }
  }

  /// At a state save (the VM paused): a held frame's chain is used, its frame unsent and
  /// counted `transmitHeldAtSave`. No interrupt: the driver reclaims finished transmit
  /// buffers on its next transmit, and the vCPUs' saved state is already taken.
  func releaseHeldFrameForSave() {
    transmitLock.withLock {
      guard let (head, _) = held, let service = transmitService else { return }
      held = nil
      deferred = false
      transmitCounters.count(.transmitHeldAtSave)
      do throws(VirtqueueFault) {
        try service.complete(queue: Self.transmitQueue, head: head, written: 0)
      } catch {
        // Reported at the next doorbell, as a wake-up's fault is.
        keepOrReport(service, error, false)
      }
    }
  }

  /// A queue fault: reported now under the VM's device lock (a doorbell), else kept for the
  /// next doorbell.
  private func keepOrReport(
    _ service: any VirtioQueueService, _ fault: VirtqueueFault, _ report: Bool
  ) {
    transmitCounters.count(.queueFault)
    if report {
      fail(service, fault)
    } else {
      transmitFault = fault
    }
  }

  /// The frame a transmit request carries, copied out of guest memory after its header;
  /// nil (counted) when it is too short or too long.
  private func frameOf(_ chain: DescriptorChain, memory: GuestMemoryMap) -> [UInt8]? {
    let readable = chain.readableLength
    guard readable >= UInt64(Self.headerLength + EthernetFrame.headerLength) else {
      transmitCounters.count(.transmitTooShort)
      return nil
    }
    guard readable - UInt64(Self.headerLength) <= UInt64(EthernetFrame.maximumLength) else {
      transmitCounters.count(.transmitTooLong)
      return nil
    }
    var frame = [UInt8](repeating: 0, count: Int(readable) - Self.headerLength)
    var skip = Self.headerLength
    var filled = 0
    frame.withUnsafeMutableBytes { destination in
      for buffer in chain.buffers where !buffer.writable {
        var start = 0
        var length = Int(buffer.length)
        if skip > 0 {
          let skipped = min(skip, length)
          skip -= skipped
          start = skipped
          length -= skipped
        }
        guard length > 0,
          let source = memory.pointer(
            to: buffer.guestPhysical + UInt64(start), length: UInt64(length))
        else { continue }
        (destination.baseAddress! + filled).copyMemory(from: source, byteCount: length)
        filled += length
      }
    }
    transmitCounters.copiedBytes &+= UInt64(filled)
    transmitCounters.copies &+= 1
    return frame
  }

  /// Hands `frame` to the switch; false when it is held (the receiver had no room: counted
  /// `transmitDeferred` the first time, and the switch wakes this NIC).
  private func forward(_ frame: [UInt8]) -> Bool {
    guard let port else {
      countSent(frame)
      transmitCounters.count(.transmitNoRoute)
      return true
    }
    let outcome = port.switch.send(frame, from: port.id)
    if outcome == .blocked {
      if !deferred {
        deferred = true
        transmitCounters.transmitDeferred &+= 1
      }
      return false
    }
    deferred = false
    countSent(frame)
    switch outcome {
    case .delivered, .flooded, .toUplink, .blocked: break
    case .dropped(.spoofedSource): transmitCounters.count(.transmitSpoofed)
    case .dropped(.receiverRefused): transmitCounters.count(.transmitPeerRefused)
    case .dropped(.runt), .dropped(.noRoute), .dropped(.badSourceFromUplink):
      transmitCounters.count(.transmitNoRoute)
    }
    return true
  }

  private func countSent(_ frame: [UInt8]) {
    transmitCounters.transmittedFrames &+= 1
    transmitCounters.transmittedBytes &+= UInt64(frame.count)
  }

  /// Reports `fault` (already counted) to the transport: under the VM's device lock and
  /// `transmitLock`.
  private func fail(_ service: any VirtioQueueService, _ fault: VirtqueueFault) {
    transmitService = nil
    held = nil
    deferred = false
    transmitFault = nil
    receiveLock.withLock { receiveService = nil }
    service.deviceNeedsReset(fault)
  }

  // MARK: Receive (SwitchPortReceiver)

  /// Copies `frame` into the driver's next receive buffer behind a virtio-net header, gives
  /// the buffer back as used and interrupts the driver. Any CPU; takes `receiveLock` only.
  /// No buffer is `.full` when the sender can wait (it offers the frame again once the
  /// switch wakes it); a driver not up drops the frame whatever the sender.
  public func receiveFrame(_ frame: [UInt8], canWait: Bool) -> SwitchReceipt {
    receiveLock.withLock { receiveLocked(frame, canWait: canWait) }
  }

  private func receiveLocked(_ frame: [UInt8], canWait: Bool) -> SwitchReceipt {
    guard let service = receiveService, receiveFault == nil else {
      receiveCounters.count(.receiveNotReady)
      return .dropped
    }
    let chain: DescriptorChain
    do {
      guard
        let next = try service.nextRequest(
          queue: Self.receiveQueue, maximumLength: Self.requestLimit)
      else {
        if canWait { return .full }
        receiveCounters.count(.receiveNoBuffer)
        return .dropped
      }
      chain = next
    } catch {
      receiveFault = error
      receiveCounters.count(.queueFault)
      return .dropped
    }
    let needed = UInt64(Self.headerLength + frame.count)
    var written: UInt32 = 0
    if chain.readableLength == 0 && chain.writableLength >= needed {
      written = scatter(frame, into: chain, memory: service.memory)
    }
    do {
      try service.complete(queue: Self.receiveQueue, head: chain.head, written: written)
    } catch {
      receiveFault = error
      receiveCounters.count(.queueFault)
      return .dropped
    }
    service.signalUsed(queue: Self.receiveQueue)
    guard written > 0 else {
      receiveCounters.count(.receiveBufferTooSmall)
      return .dropped
    }
    receiveCounters.receivedFrames &+= 1
    receiveCounters.receivedBytes &+= UInt64(frame.count)
    receiveCounters.copiedBytes &+= UInt64(written)
    receiveCounters.copies &+= 1
    return .taken
  }

  /// Writes the header (no checksum or segmentation to report, num_buffers 1 as §5.1.6.3.1
  /// requires without VIRTIO_NET_F_MRG_RXBUF) and the frame across the chain's buffers.
  private func scatter(_ frame: [UInt8], into chain: DescriptorChain, memory: GuestMemoryMap)
    -> UInt32
  {
    var header = [UInt8](repeating: 0, count: Self.headerLength)
    header[10] = 1
    var written = 0
    header.withUnsafeBytes { written = copy($0, into: chain, at: 0, memory: memory) }
    frame.withUnsafeBytes { written += copy($0, into: chain, at: written, memory: memory) }
    return UInt32(written)
  }

  /// Copies `bytes` into the writable buffers of `chain` from byte `offset` of their
  /// concatenation on; returns the bytes copied.
  private func copy(
    _ bytes: UnsafeRawBufferPointer, into chain: DescriptorChain, at offset: Int,
    memory: GuestMemoryMap
  ) -> Int {
    var skip = offset
    var copied = 0
    for buffer in chain.buffers where buffer.writable && copied < bytes.count {
      var start = 0
      var room = Int(buffer.length)
      if skip > 0 {
        let skipped = min(skip, room)
        skip -= skipped
        start = skipped
        room -= skipped
      }
      let length = min(room, bytes.count - copied)
      guard length > 0,
        let target = memory.pointer(
          to: buffer.guestPhysical + UInt64(start), length: UInt64(length))
      else { continue }
      target.copyMemory(from: bytes.baseAddress! + copied, byteCount: length)
      memory.noteWrite(buffer.guestPhysical + UInt64(start), length: UInt64(length))
      copied += length
    }
    return copied
  }
}
