/// Why the node dropped a received frame. Every drop is counted by its reason
/// (`NetworkCounters`), so garbage on the wire is visible, never silent.
public enum DropReason: Int, CaseIterable, Error, Equatable, Sendable {
  case truncatedEthernet
  case notEthernetII
  case notForThisNode
  case unsupportedEtherType
  case truncatedARP
  case unsupportedARP
  case truncatedIPv4
  case notIPv4
  case malformedIPv4
  case ipv4Options
  case ipv4Fragment
  case badIPv4Checksum
  case notOurAddress
  case unsupportedIPProtocol
  case truncatedUDP
  case malformedUDP
  case badUDPChecksum
  case noListener
  case truncatedICMP
  case badICMPChecksum
  case unsupportedICMP
  case notConfigured
  case oversized

  /// A short name for the console and status reports.
  public var name: StaticString {
    switch self {
    case .truncatedEthernet: "ethernet-truncated"
    case .notEthernetII: "not-ethernet-ii"
    case .notForThisNode: "not-for-this-mac"
    case .unsupportedEtherType: "ethertype"
    case .truncatedARP: "arp-truncated"
    case .unsupportedARP: "arp-unsupported"
    case .truncatedIPv4: "ipv4-truncated"
    case .notIPv4: "ipv4-version"
    case .malformedIPv4: "ipv4-malformed"
    case .ipv4Options: "ipv4-options"
    case .ipv4Fragment: "ipv4-fragment"
    case .badIPv4Checksum: "ipv4-checksum"
    case .notOurAddress: "not-our-address"
    case .unsupportedIPProtocol: "ip-protocol"
    case .truncatedUDP: "udp-truncated"
    case .malformedUDP: "udp-malformed"
    case .badUDPChecksum: "udp-checksum"
    case .noListener: "udp-no-listener"
    case .truncatedICMP: "icmp-truncated"
    case .badICMPChecksum: "icmp-checksum"
    case .unsupportedICMP: "icmp-type"
    case .notConfigured: "no-address"
    case .oversized: "oversized"
    }
  }
}

/// What the stack has seen and done since it started.
public struct NetworkCounters: Equatable {
  public var framesReceived: UInt64 = 0
  public var framesSent: UInt64 = 0
  public var arpRepliesSent: UInt64 = 0
  public var arpRequestsSent: UInt64 = 0
  public var echoRepliesSent: UInt64 = 0
  public var datagramsDelivered: UInt64 = 0
  public var datagramsSent: UInt64 = 0
  /// Datagrams dropped because their next hop's MAC never resolved, or the queue was full.
  public var unresolvedDrops: UInt64 = 0
  public private(set) var drops: [UInt64] = Array(repeating: 0, count: DropReason.allCases.count)

  public init() {}

  public mutating func count(_ reason: DropReason) { drops[reason.rawValue] &+= 1 }
  public func dropped(_ reason: DropReason) -> UInt64 { drops[reason.rawValue] }
  public var totalDropped: UInt64 { drops.reduce(0, &+) }
}
