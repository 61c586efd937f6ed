/// A DHCP client (RFC 2131 §4.4, Figure 5): INIT -> SELECTING (DISCOVER sent) ->
/// REQUESTING (REQUEST for the first offer) -> BOUND (ACK: the address, mask, router and
/// lease) -> RENEWING at T1 (half the lease, §4.4.5), back to INIT at its end or on a NAK.
/// Pure: it says what to send and when the address changes; the caller moves the bytes.
/// Times are milliseconds.
public struct DHCPClient {
  public enum State: Equatable {
    case initial
    case selecting
    case requesting(offered: IPv4Address, server: IPv4Address)
    case bound
    case renewing
  }

  /// What the caller does next.
  public enum Action: Equatable {
    /// Broadcast this payload from port 68 to 255.255.255.255:67 (no address yet).
    case broadcast([UInt8])
    /// Unicast this payload from port 68 to the server's port 67 (renewing).
    case unicast([UInt8], to: IPv4Address)
    /// Use this address from now on.
    case bound(InterfaceAddress, leaseSeconds: UInt32, server: IPv4Address)
    /// The address is gone (NAK or the lease ended): stop using it.
    case lost
  }

  public let mac: MACAddress
  public private(set) var state: State = .initial
  public private(set) var lease: InterfaceAddress?
  private var transaction: UInt32
  private var sentAt: UInt64 = 0
  private var retry: UInt64 = 0
  private var boundAt: UInt64 = 0
  private var leaseMilliseconds: UInt64 = 0
  private var server = IPv4Address.any
  /// First retransmission after 4 s, doubling to 64 s (§4.1), randomization left out.
  static let firstRetry: UInt64 = 4000
  static let lastRetry: UInt64 = 64000

  public init(mac: MACAddress, transaction seed: UInt32) {
    self.mac = mac
    transaction = seed
  }

  private static let wanted: [UInt8] = [
    DHCPMessage.Option.subnetMask, DHCPMessage.Option.router, DHCPMessage.Option.leaseTime,
  ]

  /// Starts (or restarts) from INIT: a DISCOVER to broadcast.
  public mutating func start(now: UInt64) -> Action {
    transaction &+= 1
    state = .selecting
    lease = nil
    sentAt = now
    retry = Self.firstRetry
    return .broadcast(discover)
  }

  private var discover: [UInt8] {
    DHCPMessage(
      operation: 1, transaction: transaction, clientMAC: mac, kind: .discover,
      options: [(DHCPMessage.Option.parameterList, Self.wanted)]
    ).bytes
  }

  private func request(offered: IPv4Address, server: IPv4Address) -> [UInt8] {
    DHCPMessage(
      operation: 1, transaction: transaction, clientMAC: mac, kind: .request,
      options: [
        (DHCPMessage.Option.requestedAddress, offered.octets),
        (DHCPMessage.Option.serverIdentifier, server.octets),
        (DHCPMessage.Option.parameterList, Self.wanted),
      ]
    ).bytes
  }

  /// RENEWING: ciaddr filled, no requested address or server identifier (§4.3.2).
  private func renewal(from address: IPv4Address) -> [UInt8] {
    DHCPMessage(
      operation: 1, transaction: transaction, flags: 0, clientAddress: address, clientMAC: mac,
      kind: .request, options: [(DHCPMessage.Option.parameterList, Self.wanted)]
    ).bytes
  }

  /// A datagram that arrived on port 68. Replies to other transactions, other clients, or
  /// of a kind the state does not expect are ignored (nil).
  public mutating func receive(_ payload: [UInt8], now: UInt64) -> Action? {
    guard let message = DHCPMessage.parse(payload), message.operation == 2,
      message.transaction == transaction, message.clientMAC == mac
    else { return nil }
    switch (state, message.kind) {
    case (.selecting, .offer):
      guard let server = message.address(option: DHCPMessage.Option.serverIdentifier),
        message.yourAddress != .any
      else { return nil }
      state = .requesting(offered: message.yourAddress, server: server)
      sentAt = now
      retry = Self.firstRetry
      return .broadcast(request(offered: message.yourAddress, server: server))
    case (.requesting, .acknowledge), (.renewing, .acknowledge):
      guard let bound = binding(from: message) else { return nil }
      return bound
    case (.requesting, .negativeAcknowledge), (.renewing, .negativeAcknowledge):
      let hadLease = lease != nil
      let restart = start(now: now)
      return hadLease ? .lost : restart
    default:
      return nil
    }
  }

  private mutating func binding(from message: DHCPMessage) -> Action? {
    let address = message.yourAddress
    guard address != .any,
      let serverID = message.address(option: DHCPMessage.Option.serverIdentifier)
        ?? (server == .any ? nil : server)
    else { return nil }
    var prefix = 24
    if let mask = message.address(option: DHCPMessage.Option.subnetMask) {
      let ones = mask.value.nonzeroBitCount
      // A contiguous mask only (RFC 950's are); anything else keeps /24.
      if ones > 0, ones <= 30, mask.value == IPv4Address.mask(prefix: ones) { prefix = ones }
    }
    var gateway = message.address(option: DHCPMessage.Option.router)
    if let router = gateway,
      router.value & IPv4Address.mask(prefix: prefix)
        != address.value & IPv4Address.mask(prefix: prefix)
    {
      gateway = nil
    }
    var seconds: UInt32 = 3600
    if let value = message.option(DHCPMessage.Option.leaseTime), let raw = value.be32(at: 0) {
      seconds = max(raw, 60)
    }
    let interface = InterfaceAddress(address: address, prefix: prefix, gateway: gateway)
    lease = interface
    server = serverID
    state = .bound
    boundAt = message.kind == .acknowledge ? sentAt : 0
    leaseMilliseconds = UInt64(seconds) * 1000
    return .bound(interface, leaseSeconds: seconds, server: serverID)
  }

  /// Retransmissions, renewal at T1, the lease's end. Call it now and then.
  public mutating func tick(now: UInt64) -> Action? {
    switch state {
    case .initial:
      return start(now: now)
    case .selecting, .requesting:
      guard now &- sentAt >= retry else { return nil }
      sentAt = now
      retry = min(retry * 2, Self.lastRetry)
      if case .requesting(let offered, let server) = state {
        return .broadcast(request(offered: offered, server: server))
      }
      return .broadcast(discover)
    case .bound:
      guard let lease, now &- boundAt >= leaseMilliseconds / 2 else { return nil }
      state = .renewing
      sentAt = now
      retry = Self.firstRetry
      return .unicast(renewal(from: lease.address), to: server)
    case .renewing:
      guard let lease else { return start(now: now) }
      if now &- boundAt >= leaseMilliseconds {
        _ = start(now: now)
        return .lost
      }
      guard now &- sentAt >= retry else { return nil }
      sentAt = now
      retry = min(retry * 2, Self.lastRetry)
      return .unicast(renewal(from: lease.address), to: server)
    }
  }

  /// When the next `tick` may have something to do.
  public var needsTicks: Bool { state != .bound || lease != nil }
}
