/// The receiving side of a port of the node's `VirtualSwitch`: a guest NIC's receive queue,
/// or the node's data NIC (the uplink).
///
/// Called with the switch's lock held, on whichever CPU forwards the frame (a guest's vCPU
/// exit, or CPU 0 for frames from the uplink). A receiver takes only its own lock (a guest
/// NIC's receive lock, the uplink's driver lock) and never a VM's device lock: the CPU
/// calling it may hold the sending VM's device lock, and two VMs sending to each other
/// would otherwise wait for each other (docs/guest-io.md, "Locks").
public protocol SwitchPortReceiver: AnyObject {
  /// Takes one whole Ethernet frame (no virtio header, no FCS). `canWait`: the sender will
  /// hold the frame and offer it again (a unicast from a guest), so "no room now" (no
  /// receive buffer, a full transmit ring) is `.full` and not a drop; otherwise (a flood,
  /// a frame from the uplink, which nobody holds) no room is a drop the receiver counts.
  func receiveFrame(_ frame: [UInt8], canWait: Bool) -> SwitchReceipt
}

/// What a port's receiver did with a frame.
public enum SwitchReceipt: Equatable {
  case taken
  /// No room now; nothing counted. Only when the sender said it can wait.
  case full
  /// Dropped there (the driver not ready, a buffer too small, no room for a frame nobody
  /// holds); the receiver counts why.
  case dropped
}

/// The sending side of a guest port: a transmit queue the switch blocked on a full
/// receiver (`SwitchOutcome.blocked`) and wakes again from `VirtualSwitch.resumeBlocked`.
public protocol SwitchPortSender: AnyObject {
  /// Offers the held frame again and goes on with the queue, a bounded amount of work.
  /// Called with no lock held, on CPU 0's poll pass.
  func resumeTransmit()
}

/// A port of a `VirtualSwitch`, handed out by `register` and given back to `unregister`.
public struct SwitchPortID: Equatable {
  public let value: Int
}

/// Why the switch would not take a guest NIC.
public enum SwitchRefusal: Equatable, Error {
  /// Another guest NIC on this node has this MAC.
  case duplicateMAC(UInt64)
  /// A station beyond the uplink sent from this MAC recently: it is in use on the network.
  case seenOnNetwork(UInt64)
  /// A group (multicast, broadcast) or all-zero address cannot be a NIC's own.
  case notUnicast(UInt64)
  /// The switch has `VirtualSwitch.maximumPorts` guest ports already.
  case tooManyPorts
}

/// What became of one frame.
public enum SwitchOutcome: Equatable {
  /// To the one local port its destination names.
  case delivered
  /// A group destination: to this many ports (the uplink among them), all but the source.
  case flooded(ports: Int)
  /// A unicast destination not on this node: out of the uplink.
  case toUplink
  /// A unicast whose receiver (the uplink's transmit ring, a local guest's receive queue)
  /// had no room: the sender keeps the frame and the switch wakes it (`resumeBlocked`).
  case blocked
  case dropped(SwitchDrop)
}

/// Why the switch dropped a frame. Each is counted (`SwitchCounters.drops`).
public enum SwitchDrop: Int, Equatable, CaseIterable {
  /// Shorter than an Ethernet header.
  case runt
  /// A guest sent with a source MAC other than its NIC's (anti-spoofing).
  case spoofedSource
  /// From the uplink with a local guest's source MAC (our own frame echoed by the hub, or
  /// a station beyond claiming a local address), or a group source address.
  case badSourceFromUplink
  /// A unicast destination no port has: the sender's own MAC, or not local without an
  /// uplink, or (from the uplink) another node's station.
  case noRoute
  /// The receiving port did not take it (its own counters say why).
  case receiverRefused
}

/// The switch's counters: frames by way and drops by reason. Updated under its lock.
public struct SwitchCounters: Equatable {
  public var fromGuests: UInt64 = 0
  public var fromUplink: UInt64 = 0
  public var delivered: UInt64 = 0
  public var flooded: UInt64 = 0
  public var toUplink: UInt64 = 0
  /// Unicasts a receiver had no room for, held by their sender (`SwitchOutcome.blocked`).
  public var blocked: UInt64 = 0
  /// Blocked senders woken by `resumeBlocked`.
  public var resumed: UInt64 = 0
  /// Announcements of an incoming VM's MAC (`VirtualSwitch.activate`).
  public var announced: UInt64 = 0
  /// Indexed by `SwitchDrop.rawValue`.
  public var drops: [UInt64] = [UInt64](repeating: 0, count: SwitchDrop.allCases.count)

  public init() {}

  public func dropped(_ reason: SwitchDrop) -> UInt64 { drops[reason.rawValue] }
}
