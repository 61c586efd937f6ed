/// The node's ARP cache (RFC 826, aging as RFC 1122 §2.3.2.1 asks): a few IPv4-to-MAC
/// entries learned from ARP, each forgotten `lifetime` after it was last confirmed. Times
/// are the caller's clock in milliseconds. Full: the oldest entry makes room.
public struct ARPCache {
  public struct Entry: Equatable {
    public var address: IPv4Address
    public var mac: MACAddress
    public var learnedAt: UInt64
  }

  public let capacity: Int
  public let lifetime: UInt64
  public private(set) var entries: [Entry] = []

  public init(capacity: Int = 16, lifetime: UInt64 = 60_000) {
    self.capacity = Swift.max(capacity, 1)
    self.lifetime = lifetime
  }

  /// The MAC for `address`, if known and not expired at `now`.
  public func lookup(_ address: IPv4Address, now: UInt64) -> MACAddress? {
    guard let entry = entries.first(where: { $0.address == address }),
      now &- entry.learnedAt < lifetime
    else { return nil }
    return entry.mac
  }

  /// Whether `address` has an entry (RFC 826's merge step updates only those).
  public func contains(_ address: IPv4Address) -> Bool {
    entries.contains { $0.address == address }
  }

  public mutating func insert(_ address: IPv4Address, mac: MACAddress, now: UInt64) {
    if let index = entries.firstIndex(where: { $0.address == address }) {
      entries[index].mac = mac
      entries[index].learnedAt = now
      return
    }
    if entries.count >= capacity,
      let oldest = entries.indices.min(by: {
        entries[$0].learnedAt < entries[$1].learnedAt
      })
    {
      entries.remove(at: oldest)
    }
    entries.append(Entry(address: address, mac: mac, learnedAt: now))
  }

  /// Forgets expired entries.
  public mutating func age(now: UInt64) {
    entries.removeAll { now &- $0.learnedAt >= lifetime }
  }
}
