/// The node's software switch (the copying "bridge" path of docs/guest-io.md): one port per
/// guest NIC, whose MAC it knows from the profile, and at most one uplink (the node's data
/// NIC). Frames are forwarded by destination MAC: a local guest's MAC to that guest, a group
/// address (broadcast, multicast) to every port but the source, any other unicast out of
/// the uplink. A guest may send only from its NIC's own MAC. Stations beyond the uplink are
/// learned from the frames it brings, in a bounded table, so that `create` can refuse a MAC
/// already in use on the network.
///
/// Locks: one `TicketLock` covers the ports, the learned table and the counters, and is held
/// while a frame is handed to its receivers, so that after `unregister` returns no CPU is
/// still writing into that port's guest. Lock order, on every path: a VM's device lock (a
/// guest's transmit runs in its vCPU's exit) → the switch's lock → a receiver's own lock
/// (a guest NIC's receive lock, the uplink driver's lock). Never the reverse, and no
/// receiver takes a VM's device lock.
///
/// Incoming ports: a VM being migrated here (or restored) is built before it runs, while
/// its MAC is still in use beyond the uplink by the VM's source copy. Its NICs take dormant
/// ports: the MAC is reserved against a second local NIC, but the switch forwards nothing
/// to or from them and the learned station keeps its place, so the running source copy
/// stays reachable from this node's guests. `activate` (at the restore that starts the VM)
/// makes the port a normal one and announces the MAC beyond the uplink (`announce`).
///
/// Backpressure: a guest's unicast whose receiver has no room now (the uplink's transmit
/// ring, a local guest's receive queue) is not dropped: the switch answers `.blocked`, the
/// sender keeps the frame (its descriptor not yet used) and the switch remembers the port.
/// CPU 0's poll pass calls `resumeBlocked`, which wakes those senders in the order they
/// blocked, outside the switch's lock. Floods and frames from the uplink are held by no
/// one, so a receiver without room drops them as before.
public final class VirtualSwitch {
  public static let maximumPorts = 64
  /// Stations beyond the uplink remembered; the least recently seen is forgotten first.
  public static let learnedCapacity = 256
  /// A learned station older than this (milliseconds) no longer holds its MAC: IEEE
  /// 802.1D's default ageing time, 300 s, so a VM destroyed on one node can be created on
  /// another a few minutes later.
  public static let ageingMilliseconds: UInt64 = 300_000

  private struct Port {
    var id: Int
    var mac: UInt64
    var receiver: any SwitchPortReceiver
    var sender: (any SwitchPortSender)?
    /// False for an incoming VM's port until `activate`: reserved, not forwarded to.
    var active: Bool
  }

  private struct Station {
    var mac: UInt64
    var lastSeen: UInt64
  }

  private let lock = TicketLock()
  private var ports: [Port] = []
  private var nextPortID = 1
  private var uplink: (any SwitchPortReceiver)?
  private var learned: [Station] = []
  private var counters = SwitchCounters()
  /// Ports whose sender holds a frame the switch answered `.blocked`, oldest first; each at
  /// most once, so the list is bounded by the ports.
  private var blocked: [Int] = []

  public init() {}

  // MARK: Ports

  /// Adds a guest NIC with `mac`, refused when the MAC is already a port's, was seen
  /// beyond the uplink within the ageing time before `now` (milliseconds), or is not a
  /// unicast address.
  /// `sender`, when given, is woken after the switch answered one of its frames `.blocked`.
  /// `incoming`: a dormant port for a VM that is not running yet (see the type's comment):
  /// a MAC seen beyond the uplink is not refused, as it is the VM's own source copy.
  public func register(
    mac: UInt64, receiver: any SwitchPortReceiver, sender: (any SwitchPortSender)? = nil,
    now: UInt64 = 0, incoming: Bool = false
  ) -> Result<SwitchPortID, SwitchRefusal> {
    lock.withLock {
      if let refusal = refusalLocked(mac, now: now, incoming: incoming) {
        return .failure(refusal)
      }
      guard ports.count < Self.maximumPorts else { return .failure(.tooManyPorts) }
      let id = nextPortID
      nextPortID += 1
      ports.append(
        Port(id: id, mac: mac, receiver: receiver, sender: sender, active: !incoming))
      return .success(SwitchPortID(value: id))
    }
  }

  /// Whether `mac` could be registered now (the check `create` makes for every NIC of a
  /// profile before it builds the VM).
  public func refusal(for mac: UInt64, now: UInt64 = 0, incoming: Bool = false)
    -> SwitchRefusal?
  {
    lock.withLock { refusalLocked(mac, now: now, incoming: incoming) }
  }

  private func refusalLocked(_ mac: UInt64, now: UInt64, incoming: Bool) -> SwitchRefusal? {
    guard mac != 0, !EthernetFrame.isGroup(mac) else { return .notUnicast(mac) }
    if ports.contains(where: { $0.mac == mac }) { return .duplicateMAC(mac) }
    if !incoming,
      learned.contains(where: { $0.mac == mac && now &- $0.lastSeen < Self.ageingMilliseconds })
    {
      return .seenOnNetwork(mac)
    }
    return nil
  }

  /// Makes an incoming VM's dormant port a normal one, now that the VM runs here: the MAC
  /// is no longer a station beyond the uplink, and a broadcast announcement (`announce`)
  /// goes to every other port and out of the uplink. Returns whether the port was dormant.
  @discardableResult
  public func activate(_ port: SwitchPortID) -> Bool {
    lock.withLock {
      guard let index = ports.firstIndex(where: { $0.id == port.value }), !ports[index].active
      else { return false }
      ports[index].active = true
      let mac = ports[index].mac
      learned.removeAll { $0.mac == mac }
      let frame = EthernetFrame.announcement(from: mac)
      for other in ports.indices where other != index && ports[other].active {
        _ = ports[other].receiver.receiveFrame(frame, canWait: false)
      }
      _ = uplink?.receiveFrame(frame, canWait: false)
      counters.announced &+= 1
      return true
    }
  }

  /// Removes a guest NIC. When it returns, no frame is being delivered to it.
  public func unregister(_ port: SwitchPortID) {
    lock.withLock {
      ports.removeAll { $0.id == port.value }
      blocked.removeAll { $0 == port.value }
    }
  }

  public func attachUplink(_ receiver: any SwitchPortReceiver) {
    lock.withLock { uplink = receiver }
  }

  public var hasUplink: Bool { lock.withLock { uplink != nil } }
  public var portCount: Int { lock.withLock { ports.count } }
  public var learnedCount: Int { lock.withLock { learned.count } }
  public var statistics: SwitchCounters { lock.withLock { counters } }
  /// Whether some sender waits for room (CPU 0 then polls rather than sleeps).
  public var hasBlocked: Bool { lock.withLock { !blocked.isEmpty } }

  /// Wakes the senders the switch blocked, oldest first, each once: each offers its held
  /// frame again and goes on (a bounded amount of work, `SwitchPortSender`); one that
  /// finds no room again is blocked again, at the back. Called with no lock held (CPU 0's
  /// poll pass): the senders take their own locks and then the switch's. A port
  /// unregistered meanwhile is not woken (its NIC is also reset before its memory goes).
  /// Returns the senders woken.
  @discardableResult
  public func resumeBlocked() -> Int {
    let senders: [any SwitchPortSender] = lock.withLock {
      var woken: [any SwitchPortSender] = []
      for id in blocked {
        if let port = ports.first(where: { $0.id == id }), let sender = port.sender {
          woken.append(sender)
        }
      }
      blocked.removeAll()
      counters.resumed &+= UInt64(woken.count)
      return woken
    }
    for sender in senders { sender.resumeTransmit() }
    return senders.count
  }

  // MARK: Forwarding

  /// A frame a guest NIC sent (its vCPU's exit, the VM's device lock held).
  @discardableResult
  public func send(_ frame: [UInt8], from port: SwitchPortID) -> SwitchOutcome {
    lock.withLock {
      counters.fromGuests &+= 1
      guard frame.count >= EthernetFrame.headerLength else { return dropLocked(.runt) }
      guard let source = ports.firstIndex(where: { $0.id == port.value }),
        ports[source].active, EthernetFrame.source(frame) == ports[source].mac
      else { return dropLocked(.spoofedSource) }
      let destination = EthernetFrame.destination(frame)
      if EthernetFrame.isGroup(destination) {
        var reached = 0
        for index in ports.indices where index != source && ports[index].active {
          if ports[index].receiver.receiveFrame(frame, canWait: false) == .taken { reached += 1 }
        }
        if let uplink, uplink.receiveFrame(frame, canWait: false) == .taken { reached += 1 }
        counters.flooded &+= 1
        return .flooded(ports: reached)
      }
      if let target = ports.firstIndex(where: { $0.active && $0.mac == destination }) {
        guard target != source else { return dropLocked(.noRoute) }
        return deliverLocked(frame, to: ports[target].receiver, waiting: ports[source])
      }
      guard let uplink else { return dropLocked(.noRoute) }
      switch uplink.receiveFrame(frame, canWait: ports[source].sender != nil) {
      case .taken:
        counters.toUplink &+= 1
        return .toUplink
      case .full: return blockLocked(ports[source])
      case .dropped: return dropLocked(.receiverRefused)
      }
    }
  }

  /// A frame the node's data NIC received (CPU 0, no VM's lock held) at `now`
  /// (milliseconds, for the learned table's ageing).
  @discardableResult
  public func receiveFromUplink(_ frame: [UInt8], now: UInt64 = 0) -> SwitchOutcome {
    lock.withLock {
      counters.fromUplink &+= 1
      guard frame.count >= EthernetFrame.headerLength else { return dropLocked(.runt) }
      let source = EthernetFrame.source(frame)
      guard !EthernetFrame.isGroup(source),
        !ports.contains(where: { $0.active && $0.mac == source })
      else {
        return dropLocked(.badSourceFromUplink)
      }
      learnLocked(source, now: now)
      let destination = EthernetFrame.destination(frame)
      if EthernetFrame.isGroup(destination) {
        var reached = 0
        for port in ports
        where port.active && port.receiver.receiveFrame(frame, canWait: false) == .taken {
          reached += 1
        }
        counters.flooded &+= 1
        return .flooded(ports: reached)
      }
      guard let target = ports.first(where: { $0.active && $0.mac == destination }) else {
        return dropLocked(.noRoute)
      }
      return deliverLocked(frame, to: target.receiver)
    }
  }

  /// To one port's receiver; `waiting`, a guest port that can hold the frame, is blocked
  /// when the receiver has no room.
  private func deliverLocked(
    _ frame: [UInt8], to receiver: any SwitchPortReceiver, waiting: Port? = nil
  ) -> SwitchOutcome {
    switch receiver.receiveFrame(frame, canWait: waiting?.sender != nil) {
    case .taken:
      counters.delivered &+= 1
      return .delivered
    case .full:
      guard let waiting else { return dropLocked(.receiverRefused) }
      return blockLocked(waiting)
    case .dropped: return dropLocked(.receiverRefused)
    }
  }

  private func blockLocked(_ port: Port) -> SwitchOutcome {
    counters.blocked &+= 1
    if !blocked.contains(port.id) { blocked.append(port.id) }
    return .blocked
  }

  private func dropLocked(_ reason: SwitchDrop) -> SwitchOutcome {
    counters.drops[reason.rawValue] &+= 1
    return .dropped(reason)
  }

  /// Remembers `mac` as a station beyond the uplink; when the table is full the least
  /// recently seen station is forgotten (the table stays bounded whatever the hub brings).
  private func learnLocked(_ mac: UInt64, now: UInt64) {
    if let index = learned.firstIndex(where: { $0.mac == mac }) {
      learned[index].lastSeen = now
      return
    }
    if learned.count < Self.learnedCapacity {
      learned.append(Station(mac: mac, lastSeen: now))
      return
    }
    var oldest = 0
    for index in learned.indices where learned[index].lastSeen < learned[oldest].lastSeen {
      oldest = index
    }
    learned[oldest] = Station(mac: mac, lastSeen: now)
  }

  /// Whether `mac` is a learned station beyond the uplink.
  public func hasLearned(_ mac: UInt64) -> Bool {
    lock.withLock { learned.contains { $0.mac == mac } }
  }
}
