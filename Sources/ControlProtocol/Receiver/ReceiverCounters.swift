/// What a node's receiver refused, by reason (and what it accepted), since boot.
public struct ReceiverCounters: Equatable {
  /// New requests handed over to be executed.
  public var accepted: UInt64 = 0
  /// Retransmissions answered from the response cache, not executed again.
  public var duplicates: UInt64 = 0
  /// A tag that the cluster key does not give (wrong key, forgery, corruption).
  public var refusedUnauthenticated: UInt64 = 0
  /// Not a well-formed datagram or request of this version.
  public var refusedMalformed: UInt64 = 0
  /// Authentic, but a sequence number already used or too old for the window.
  public var refusedReplayed: UInt64 = 0
  /// Authentic, but made for an earlier boot of the node.
  public var refusedStaleEpoch: UInt64 = 0

  public init() {}

  func encode(into writer: inout WireWriter) {
    writer.u64(accepted)
    writer.u64(duplicates)
    writer.u64(refusedUnauthenticated)
    writer.u64(refusedMalformed)
    writer.u64(refusedReplayed)
    writer.u64(refusedStaleEpoch)
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> ReceiverCounters {
    var counters = ReceiverCounters()
    counters.accepted = try reader.u64()
    counters.duplicates = try reader.u64()
    counters.refusedUnauthenticated = try reader.u64()
    counters.refusedMalformed = try reader.u64()
    counters.refusedReplayed = try reader.u64()
    counters.refusedStaleEpoch = try reader.u64()
    return counters
  }
}
