/// The last few responses a node sent, so that a retransmitted request (same client, same
/// sequence number, same tag) is answered again without being executed again.
///
/// Bounded: `capacity` entries, the oldest replaced first. An entry is pending from the
/// moment its request is handed over until its response is stored.
public struct ResponseCache {
  public enum Lookup: Equatable {
    case missing
    case pending
    case answered([UInt8])
  }

  private struct Entry {
    var clientID: UInt32
    var sequence: UInt64
    /// The request's HMAC tag: the retransmission must be the same datagram.
    var requestTag: [UInt8]
    var response: [UInt8]?
  }

  public let capacity: Int
  private var entries: [Entry] = []
  private var next = 0

  public init(capacity: Int) {
    precondition(capacity > 0, "at least one cached response")
    self.capacity = capacity
  }

  public func lookup(clientID: UInt32, sequence: UInt64, requestTag: [UInt8]) -> Lookup {
    for entry in entries
    where entry.clientID == clientID && entry.sequence == sequence
      && ConstantTime.equals(entry.requestTag, requestTag)
    {
      if let response = entry.response { return .answered(response) }
      return .pending
    }
    return .missing
  }

  public mutating func markPending(clientID: UInt32, sequence: UInt64, requestTag: [UInt8]) {
    let entry = Entry(clientID: clientID, sequence: sequence, requestTag: requestTag, response: nil)
    if entries.count < capacity {
      entries.append(entry)
    } else {
      entries[next] = entry
      next = (next + 1) % capacity
    }
  }

  /// Stores the response of a pending entry (if it is still cached).
  public mutating func store(_ response: [UInt8], clientID: UInt32, sequence: UInt64) {
    for index in entries.indices
    where entries[index].clientID == clientID && entries[index].sequence == sequence {
      entries[index].response = response
    }
  }
}
