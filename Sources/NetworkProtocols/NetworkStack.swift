/// The node's IPv4 stack, platform-neutral: frames in, frames out. It answers ARP for its
/// address, replies to ICMP echo, and hands UDP datagrams for bound ports to its caller;
/// what it sends waits for ARP when the next hop's MAC is unknown. Times are the caller's
/// clock in milliseconds. The kernel moves the bytes between this and the NIC.
public struct NetworkStack {
  public let mac: MACAddress
  public private(set) var interface: InterfaceAddress?
  public private(set) var counters = NetworkCounters()
  public private(set) var arp: ARPCache
  public private(set) var boundPorts: [UInt16] = []
  /// IPv4 packets waiting for their next hop's MAC, and when it was last asked for.
  private var waiting: [(nextHop: IPv4Address, packet: [UInt8], since: UInt64)] = []
  private var lastRequest: [(address: IPv4Address, at: UInt64, tries: Int)] = []
  private var identification: UInt16 = 1
  /// Packets waiting for ARP at most; more are dropped (counted as unresolved).
  public static let waitingLimit = 8
  /// An ARP request is repeated after this long, and given up after `arpTries`.
  public static let arpRetryMilliseconds: UInt64 = 1000
  public static let arpTries = 3
  /// The largest UDP payload in one unfragmented Ethernet frame: 1500 - 20 - 8.
  public static let maximumUDPPayload = EthernetFrame.maximumPayload - 28

  public init(mac: MACAddress, interface: InterfaceAddress?, arpCache: ARPCache = ARPCache()) {
    self.mac = mac
    self.interface = interface
    self.arp = arpCache
  }

  /// What one received frame produced: frames to send now, and the datagram to hand to the
  /// port's listener, if any.
  public struct Reception {
    public var transmit: [[UInt8]] = []
    public var datagram: ReceivedDatagram?
    public var dropped: DropReason?
  }

  /// Binds `port`; false if it was already bound.
  @discardableResult
  public mutating func bind(port: UInt16) -> Bool {
    guard !boundPorts.contains(port) else { return false }
    boundPorts.append(port)
    return true
  }

  public mutating func configure(_ interface: InterfaceAddress?) { self.interface = interface }

  public mutating func receive(_ bytes: [UInt8], now: UInt64) -> Reception {
    counters.framesReceived &+= 1
    var result = Reception()
    switch classify(bytes, now: now, into: &result) {
    case .success: break
    case .failure(let reason):
      counters.count(reason)
      result.dropped = reason
    }
    counters.framesSent &+= UInt64(result.transmit.count)
    return result
  }

  private mutating func classify(
    _ bytes: [UInt8], now: UInt64, into result: inout Reception
  ) -> Result<Void, DropReason> {
    guard bytes.count <= EthernetFrame.headerLength + EthernetFrame.maximumPayload + 4 else {
      return .failure(.oversized)  // 4: room for an 802.1Q tag the NIC left in
    }
    let frame: EthernetFrame
    switch EthernetFrame.parse(bytes) {
    case .success(let parsed): frame = parsed
    case .failure(let reason): return .failure(reason)
    }
    guard frame.destination == mac || frame.destination == .broadcast else {
      return .failure(.notForThisNode)
    }
    switch frame.etherType {
    case EtherType.arp: return receiveARP(frame.payload, now: now, into: &result)
    case EtherType.ipv4: return receiveIPv4(frame.payload, now: now, into: &result)
    default: return .failure(.unsupportedEtherType)
    }
  }

  // MARK: ARP

  private mutating func receiveARP(
    _ bytes: [UInt8], now: UInt64, into result: inout Reception
  ) -> Result<Void, DropReason> {
    let packet: ARPPacket
    switch ARPPacket.parse(bytes) {
    case .success(let parsed): packet = parsed
    case .failure(let reason): return .failure(reason)
    }
    guard let interface else { return .failure(.notConfigured) }
    // RFC 826 "Packet reception": update a known sender; add it when the packet is for us.
    let forUs = packet.targetIP == interface.address
    let validSender =
      !packet.senderMAC.isMulticast && packet.senderIP != .any
      && packet.senderIP != interface.address
    if validSender && (forUs || arp.contains(packet.senderIP)) {
      arp.insert(packet.senderIP, mac: packet.senderMAC, now: now)
      result.transmit += releaseWaiting(for: packet.senderIP, mac: packet.senderMAC)
    }
    guard forUs else { return .failure(.notOurAddress) }
    if packet.operation == .request {
      let reply = ARPPacket(
        operation: .reply, senderMAC: mac, senderIP: interface.address,
        targetMAC: packet.senderMAC, targetIP: packet.senderIP)
      result.transmit.append(
        EthernetFrame(
          destination: packet.senderMAC, source: mac, etherType: EtherType.arp,
          payload: reply.bytes
        ).bytes)
      counters.arpRepliesSent &+= 1
    }
    return .success(())
  }

  private mutating func releaseWaiting(for address: IPv4Address, mac target: MACAddress)
    -> [[UInt8]]
  {
    var frames: [[UInt8]] = []
    var kept: [(nextHop: IPv4Address, packet: [UInt8], since: UInt64)] = []
    for entry in waiting {
      if entry.nextHop == address {
        frames.append(
          EthernetFrame(
            destination: target, source: mac, etherType: EtherType.ipv4, payload: entry.packet
          ).bytes)
      } else {
        kept.append(entry)
      }
    }
    waiting = kept
    lastRequest.removeAll { $0.address == address }
    return frames
  }

  // MARK: IPv4

  private mutating func receiveIPv4(
    _ bytes: [UInt8], now: UInt64, into result: inout Reception
  ) -> Result<Void, DropReason> {
    let packet: IPv4Packet
    switch IPv4Packet.parse(bytes) {
    case .success(let parsed): packet = parsed
    case .failure(let reason): return .failure(reason)
    }
    // Without an address (DHCP still asking) only UDP to a bound port gets through,
    // whatever its destination: the server's answer goes to the offered address.
    guard let interface else {
      guard packet.protocolNumber == IPProtocol.udp else { return .failure(.notConfigured) }
      return deliverUDP(packet, into: &result)
    }
    let unicast = packet.destination == interface.address
    guard
      unicast || packet.destination.isBroadcast
        || packet.destination == interface.subnetBroadcast
    else { return .failure(.notOurAddress) }
    switch packet.protocolNumber {
    case IPProtocol.icmp:
      guard unicast else { return .failure(.notOurAddress) }
      let echo: ICMPEcho
      switch ICMPEcho.parse(packet.payload) {
      case .success(let parsed): echo = parsed
      case .failure(let reason): return .failure(reason)
      }
      guard echo.type == ICMPEcho.echoRequest else { return .failure(.unsupportedICMP) }
      result.transmit += send(
        protocolNumber: IPProtocol.icmp, payload: echo.reply.bytes, to: packet.source, now: now)
      counters.echoRepliesSent &+= 1
      return .success(())
    case IPProtocol.udp:
      return deliverUDP(packet, into: &result)
    default:
      return .failure(.unsupportedIPProtocol)
    }
  }

  private mutating func deliverUDP(
    _ packet: IPv4Packet, into result: inout Reception
  ) -> Result<Void, DropReason> {
    let datagram: UDPDatagram
    switch UDPDatagram.parse(packet.payload, source: packet.source, destination: packet.destination)
    {
    case .success(let parsed): datagram = parsed
    case .failure(let reason): return .failure(reason)
    }
    guard boundPorts.contains(datagram.destinationPort) else { return .failure(.noListener) }
    counters.datagramsDelivered &+= 1
    result.datagram = ReceivedDatagram(
      source: packet.source, sourcePort: datagram.sourcePort,
      destinationPort: datagram.destinationPort, payload: datagram.payload)
    return .success(())
  }

  /// One datagram to 255.255.255.255 (the broadcast MAC), from the node's address or, with
  /// none yet, from 0.0.0.0 (RFC 2131 §4.1): DHCP's DISCOVER and REQUEST.
  public mutating func broadcastUDP(
    _ payload: [UInt8], from sourcePort: UInt16, port destinationPort: UInt16
  ) -> [UInt8]? {
    guard payload.count <= Self.maximumUDPPayload else {
      counters.count(.oversized)
      return nil
    }
    let source = interface?.address ?? .any
    let datagram = UDPDatagram(
      sourcePort: sourcePort, destinationPort: destinationPort, payload: payload)
    let packet = IPv4Packet(
      source: source, destination: .broadcast, protocolNumber: IPProtocol.udp,
      payload: datagram.bytes(source: source, destination: .broadcast),
      identification: identification
    ).bytes
    identification &+= 1
    counters.datagramsSent &+= 1
    counters.framesSent &+= 1
    return frame(to: .broadcast, packet)
  }

  // MARK: Sending

  /// The frames that send `payload` from `sourcePort` to `destination`:`destinationPort`
  /// now, or none while the next hop's MAC is being asked for (the datagram then waits,
  /// and goes out when the ARP reply arrives). Empty, and counted, when it cannot be sent.
  public mutating func sendUDP(
    _ payload: [UInt8], from sourcePort: UInt16, to destination: IPv4Address,
    port destinationPort: UInt16, now: UInt64
  ) -> [[UInt8]] {
    guard let interface else {
      counters.count(.notConfigured)
      return []
    }
    guard payload.count <= Self.maximumUDPPayload else {
      counters.count(.oversized)
      return []
    }
    let datagram = UDPDatagram(
      sourcePort: sourcePort, destinationPort: destinationPort, payload: payload)
    counters.datagramsSent &+= 1
    let frames = send(
      protocolNumber: IPProtocol.udp,
      payload: datagram.bytes(source: interface.address, destination: destination),
      to: destination, now: now)
    counters.framesSent &+= UInt64(frames.count)
    return frames
  }

  private mutating func send(
    protocolNumber: UInt8, payload: [UInt8], to destination: IPv4Address, now: UInt64
  ) -> [[UInt8]] {
    guard let interface else { return [] }
    let packet = IPv4Packet(
      source: interface.address, destination: destination, protocolNumber: protocolNumber,
      payload: payload, identification: identification
    ).bytes
    identification &+= 1
    if destination.isBroadcast || destination == interface.subnetBroadcast {
      return [frame(to: .broadcast, packet)]
    }
    let nextHop: IPv4Address
    if interface.isOnLink(destination) {
      nextHop = destination
    } else if let gateway = interface.gateway {
      nextHop = gateway
    } else {
      counters.unresolvedDrops &+= 1
      return []
    }
    if let known = arp.lookup(nextHop, now: now) { return [frame(to: known, packet)] }
    guard waiting.count < Self.waitingLimit else {
      counters.unresolvedDrops &+= 1
      return []
    }
    waiting.append((nextHop, packet, now))
    if lastRequest.contains(where: { $0.address == nextHop }) { return [] }
    lastRequest.append((nextHop, now, 1))
    return [arpRequest(for: nextHop, from: interface.address)]
  }

  private func frame(to destination: MACAddress, _ packet: [UInt8]) -> [UInt8] {
    EthernetFrame(destination: destination, source: mac, etherType: EtherType.ipv4, payload: packet)
      .bytes
  }

  private mutating func arpRequest(for address: IPv4Address, from own: IPv4Address) -> [UInt8] {
    counters.arpRequestsSent &+= 1
    let request = ARPPacket(
      operation: .request, senderMAC: mac, senderIP: own, targetMAC: .zero, targetIP: address)
    return EthernetFrame(
      destination: .broadcast, source: mac, etherType: EtherType.arp, payload: request.bytes
    ).bytes
  }

  /// Periodic work: ARP requests repeated, then given up (their packets dropped and
  /// counted); expired cache entries forgotten. Returns the frames to send.
  public mutating func tick(now: UInt64) -> [[UInt8]] {
    arp.age(now: now)
    guard let interface, !lastRequest.isEmpty else { return [] }
    var frames: [[UInt8]] = []
    var kept: [(address: IPv4Address, at: UInt64, tries: Int)] = []
    for request in lastRequest {
      guard now &- request.at >= Self.arpRetryMilliseconds else {
        kept.append(request)
        continue
      }
      if request.tries >= Self.arpTries {
        let before = waiting.count
        waiting.removeAll { $0.nextHop == request.address }
        counters.unresolvedDrops &+= UInt64(before - waiting.count)
      } else {
        frames.append(arpRequest(for: request.address, from: interface.address))
        kept.append((request.address, now, request.tries + 1))
      }
    }
    lastRequest = kept
    counters.framesSent &+= UInt64(frames.count)
    return frames
  }

  /// Whether `tick` has anything to do (a request outstanding).
  public var awaitsARP: Bool { !lastRequest.isEmpty }
}

/// A UDP datagram for a bound port, as its listener sees it.
public struct ReceivedDatagram: Equatable {
  public var source: IPv4Address
  public var sourcePort: UInt16
  public var destinationPort: UInt16
  public var payload: [UInt8]

  public init(source: IPv4Address, sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8]) {
    self.source = source
    self.sourcePort = sourcePort
    self.destinationPort = destinationPort
    self.payload = payload
  }
}
